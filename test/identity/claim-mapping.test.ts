import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { ClaimConditions } from '../../src/core/claim-condition.js';
import { claimValue, parseClaimPath } from '../../src/core/claim-path.js';
import { parseClaimTemplate, renderClaimTemplate } from '../../src/core/claim-template.js';
import { ClaimMapping } from '../../src/identity/claim-mapping.js';

function mapping(entry: Record<string, unknown>): ClaimMapping {
  const [issuer] = configSchema.parse({
    identity: { issuers: [{ issuer: 'https://issuer.test', audience: 'gatehouse', ...entry }] },
  }).identity.issuers;
  return new ClaimMapping(issuer as NonNullable<typeof issuer>);
}

function configIssues(entry: Record<string, unknown>): string[] {
  const result = configSchema.safeParse({
    identity: { issuers: [{ issuer: 'https://issuer.test', audience: 'gatehouse', ...entry }] },
  });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const k8s = {
  sub: 'system:serviceaccount:payments:api',
  'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api', uid: 'u-1' } },
};

describe('claim paths', () => {
  test('dotted paths reach nested claims; bracketed quoted keys may contain dots', () => {
    assert.deepEqual(parseClaimPath('realm_access.roles'), ['realm_access', 'roles']);
    assert.deepEqual(parseClaimPath('["kubernetes.io"].namespace'), ['kubernetes.io', 'namespace']);
    assert.deepEqual(parseClaimPath("['kubernetes.io'].serviceaccount.name"), [
      'kubernetes.io',
      'serviceaccount',
      'name',
    ]);
    assert.deepEqual(parseClaimPath('a["b.c"]'), ['a', 'b.c']);
    assert.equal(claimValue(k8s, '["kubernetes.io"].namespace'), 'payments');
    assert.equal(claimValue(k8s, "['kubernetes.io'].serviceaccount.name"), 'api');
    // Without brackets the dot splits, so the key with a dot is not found: the reason the syntax exists.
    assert.equal(claimValue(k8s, 'kubernetes.io.namespace'), undefined);
  });

  test('bad paths are refused with a reason; prototype keys never resolve', () => {
    for (const bad of ['', 'a..b', '["a"', '[a]', 'a.', '.a', 'a b', '[""]']) {
      assert.throws(() => parseClaimPath(bad), Error, bad);
    }
    assert.equal(claimValue({ a: {} }, 'a.constructor'), undefined);
    assert.equal(claimValue({}, '__proto__'), undefined);
  });
});

describe('claim templates and conditions', () => {
  test('a template fills every placeholder or produces nothing', () => {
    const template = parseClaimTemplate('repo:{repository}:ref:{ref}');
    assert.equal(
      renderClaimTemplate(template, { repository: 'acme/app', ref: 'refs/heads/main' }),
      'repo:acme/app:ref:refs/heads/main',
    );
    assert.equal(renderClaimTemplate(template, { repository: 'acme/app' }), undefined);
    assert.equal(renderClaimTemplate(template, { repository: 'acme/app', ref: '' }), undefined);
    assert.equal(renderClaimTemplate(template, { repository: 'acme/app', ref: ['a'] }), undefined);
    assert.equal(renderClaimTemplate(template, { repository: 'acme/app', ref: 'a\nb' }), undefined);
    assert.equal(renderClaimTemplate(parseClaimTemplate('ns:{["kubernetes.io"].namespace}'), k8s), 'ns:payments');
    assert.throws(() => parseClaimTemplate('no placeholders'));
    assert.throws(() => parseClaimTemplate('open {ref'));
    assert.throws(() => parseClaimTemplate('close ref}'));
  });

  test('conditions: equality, list membership, glob; every claim must match; list claims match by any value', () => {
    const when = new ClaimConditions({ repository_owner: 'acme', ref: ['refs/heads/main', 'refs/tags/v*'] });
    assert.deepEqual(when.match({ repository_owner: 'acme', ref: 'refs/heads/main' }), [
      'repository_owner=acme',
      'ref=refs/heads/main',
    ]);
    assert.ok(when.match({ repository_owner: 'acme', ref: 'refs/tags/v1.2' }));
    assert.equal(when.match({ repository_owner: 'acme', ref: 'refs/heads/feature' }), undefined);
    assert.equal(when.match({ repository_owner: 'evil', ref: 'refs/heads/main' }), undefined);
    assert.equal(when.match({ ref: 'refs/heads/main' }), undefined);
    assert.ok(new ClaimConditions({ roles: 'admin' }).match({ roles: ['reader', 'admin'] }));
    assert.ok(new ClaimConditions({ project_id: 42 }).match({ project_id: '42' }));
    assert.equal(new ClaimConditions({ 'a.b': 'x' }).match({ 'a.b': 'x' }), undefined, 'paths split at dots');
  });
});

describe('issuer claim mappings', () => {
  test('claim values as they are, templates, and fixed groups gated by when', () => {
    const m = mapping({
      groups: [
        { claim: 'repository' },
        { template: 'repo:{repository}:ref:{ref}' },
        { group: 'deployers', when: { repository_owner: 'acme', ref: 'refs/heads/main' } },
      ],
    });
    const main = {
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      repository_owner: 'acme',
      ref: 'refs/heads/main',
    };
    assert.deepEqual(m.groups(main), ['acme/app', 'deployers', 'repo:acme/app:ref:refs/heads/main']);
    assert.deepEqual(m.groups({ ...main, ref: 'refs/heads/evil' }), ['acme/app', 'repo:acme/app:ref:refs/heads/evil']);
  });

  test('groupsClaim keeps working; with mappings and no groupsClaim, a groups claim is not read', () => {
    assert.deepEqual(mapping({}).groups({ groups: ['b', 'a', 'a'] }), ['a', 'b']);
    assert.deepEqual(mapping({ groupsClaim: 'roles' }).groups({ roles: 'x y,z', groups: ['no'] }), ['x', 'y', 'z']);
    const mapped = mapping({ groups: [{ group: 'ci' }] });
    assert.deepEqual(mapped.groups({ groups: ['admins'] }), ['ci']);
    const both = mapping({ groupsClaim: 'groups', groups: [{ group: 'ci' }] });
    assert.deepEqual(both.groups({ groups: ['admins'] }), ['admins', 'ci']);
  });

  test('subjectClaim picks the subject; a missing or non-string one gives none', () => {
    const m = mapping({ subjectClaim: '["kubernetes.io"].serviceaccount.name' });
    assert.equal(m.subject(k8s), 'api');
    assert.equal(mapping({}).subject(k8s), 'system:serviceaccount:payments:api');
    assert.equal(mapping({ subjectClaim: 'email' }).subject({ email: 5 }), undefined);
  });

  test('the config refuses malformed mappings and paths, naming them', () => {
    assert.deepEqual(configIssues({ groups: [{ claim: 'a', group: 'b' }] }), [
      'identity.issuers.0.groups.0: a group mapping needs exactly one of claim, template or group',
    ]);
    assert.match(configIssues({ groups: [{ template: 'x:{ref' }] })[0] ?? '', /unterminated "\{"/);
    assert.match(configIssues({ groups: [{ group: 'x', when: { '["a': 'b' } }] })[0] ?? '', /unterminated/);
    assert.match(configIssues({ subjectClaim: 'a..b' })[0] ?? '', /claim name/);
    assert.match(configIssues({ groups: [{ group: 'x', when: {} }] })[0] ?? '', /at least one claim/);
  });
});
