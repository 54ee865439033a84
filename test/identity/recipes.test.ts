import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../src/config/schema.js';
import { systemClock } from '../../src/core/clock.js';
import type { Identity } from '../../src/core/identity.js';
import type { Operation } from '../../src/core/operation.js';
import { JwtVerifier } from '../../src/identity/jwt-verifier.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';

/**
 * The recipes of docs/identity.md, loaded from the files the doc includes (examples/identity/), fed tokens shaped
 * like each provider's documented claim set, signed by a local issuer under the provider's own `iss`. Only where the
 * keys come from changes (the local JWKS instead of the provider's); everything else is the recipe as written.
 */
const recipe = (name: string) => fileURLToPath(new URL(`../../examples/identity/${name}.yaml`, import.meta.url));
const issuers: LocalIssuer[] = [];
after(async () => Promise.all(issuers.map((i) => i.close())));

interface Recipe {
  readonly config: GatehouseConfig;
  readonly verify: (claims: Record<string, unknown>, typ?: string) => Promise<Identity>;
  readonly decide: (identity: Identity, kind: Operation['kind']) => string;
}

async function load(name: string): Promise<Recipe> {
  const file = recipe(name);
  const { config } = parseConfig(readFileSync(file, 'utf8'), file);
  const configured = config.identity.issuers[0];
  assert.ok(configured);
  const local = await startLocalIssuer(configured.issuer);
  issuers.push(local);
  const { caFile: _privateCa, ...rest } = configured;
  const verifier = new JwtVerifier({ issuers: [{ ...rest, jwksUri: local.jwksUri }], clock: systemClock });
  const engine = new PolicyEngine(config.resources);
  const resource = config.resources[0]?.name as string;
  const now = Math.floor(Date.now() / 1000);
  return {
    config,
    verify: async (claims, typ) =>
      verifier.verify(
        await local.sign(
          { iss: configured.issuer, iat: now, nbf: now - 5, exp: now + 300, ...claims },
          typ === undefined ? {} : { typ },
        ),
      ),
    decide: (identity, kind) =>
      engine.decide({ protocol: 'postgres', resource, kind, tags: [], action: kind, text: kind }, { identity }).verdict,
  };
}

describe('identity recipes (docs/identity.md) with provider-shaped tokens', () => {
  test('GitHub Actions: repository groups; deployers only from main of acme/app', async () => {
    const r = await load('github-actions');
    // Claims as GitHub documents them (docs.github.com, "OpenID Connect reference", example token).
    const main = {
      jti: 'example-id',
      sub: 'repo:acme/app:ref:refs/heads/main',
      aud: 'gatehouse',
      ref: 'refs/heads/main',
      sha: 'example-sha',
      repository: 'acme/app',
      repository_owner: 'acme',
      actor_id: '12',
      repository_visibility: 'private',
      repository_id: '74',
      repository_owner_id: '65',
      run_id: 'example-run-id',
      run_number: '10',
      run_attempt: '2',
      runner_environment: 'github-hosted',
      actor: 'octocat',
      workflow: 'example-workflow',
      head_ref: '',
      base_ref: '',
      event_name: 'push',
      ref_type: 'branch',
      ref_protected: 'true',
      workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
      job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
    };
    const onMain = await r.verify(main);
    assert.equal(onMain.subject, 'repo:acme/app:ref:refs/heads/main');
    assert.deepEqual(onMain.groups, ['deployers', 'repo:acme/app']);
    assert.equal(r.decide(onMain, 'write'), 'allow');
    assert.equal(r.decide(onMain, 'ddl'), 'review');

    // The same repository on another branch: the condition on ref keeps it out.
    const onBranch = await r.verify({
      ...main,
      sub: 'repo:acme/app:ref:refs/heads/feature',
      ref: 'refs/heads/feature',
    });
    assert.deepEqual(onBranch.groups, ['repo:acme/app']);
    assert.equal(r.decide(onBranch, 'write'), 'deny');
    // A repository of the same name under another owner id (renamed owner, re-registered name): out.
    const impostor = await r.verify({ ...main, repository_owner_id: '999' });
    assert.equal(r.decide(impostor, 'write'), 'deny');
    // A job with an environment: its sub names the environment and a group says which.
    const env = await r.verify({ ...main, sub: 'repo:acme/app:environment:prod', environment: 'prod' });
    assert.deepEqual(env.groups, ['deployers', 'repo:acme/app', 'repo:acme/app:env:prod']);
  });

  test('GitLab CI: release-jobs only from protected main of acme/app; scheduled pipelines read by claims', async () => {
    const r = await load('gitlab-ci');
    // Claims as GitLab documents them (docs.gitlab.com, "OpenID Connect (OIDC) Authentication Using ID Tokens").
    const main = {
      namespace_id: '72',
      namespace_path: 'acme',
      project_id: '20',
      project_path: 'acme/app',
      user_id: '1',
      user_login: 'sample-user',
      user_email: 'sample-user@example.com',
      user_access_level: 'maintainer',
      pipeline_id: '574',
      pipeline_source: 'push',
      job_id: '302',
      ref: 'main',
      ref_type: 'branch',
      ref_path: 'refs/heads/main',
      ref_protected: 'true',
      runner_id: 1,
      runner_environment: 'self-hosted',
      sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
      project_visibility: 'private',
      ci_config_ref_uri: 'gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main',
      ci_config_sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
      jti: '235b3a54-b797-45c7-ae9a-f72d7bc6ef5b',
      sub: 'project_path:acme/app:ref_type:branch:ref:main',
      aud: 'https://gatehouse.example.com',
    };
    const onMain = await r.verify(main);
    assert.deepEqual(onMain.groups, ['gitlab:acme/app', 'release-jobs']);
    assert.equal(r.decide(onMain, 'write'), 'allow');
    const branch = await r.verify({
      ...main,
      ref: 'feature-branch-1',
      ref_path: 'refs/heads/feature-branch-1',
      ref_protected: 'false',
      sub: 'project_path:acme/app:ref_type:branch:ref:feature-branch-1',
    });
    assert.deepEqual(branch.groups, ['gitlab:acme/app']);
    assert.equal(r.decide(branch, 'write'), 'deny');
    assert.equal(r.decide(branch, 'read'), 'deny');
    const scheduled = await r.verify({ ...main, ...{ ref: 'nightly', pipeline_source: 'schedule' } });
    assert.equal(r.decide(scheduled, 'read'), 'allow');
    assert.equal(r.decide(scheduled, 'write'), 'deny');
  });

  test('Kubernetes: the namespace under the "kubernetes.io" key maps; another namespace does not get in', async () => {
    const r = await load('kubernetes');
    // A projected service-account token's claims (kubernetes.io, "Service account tokens", JWT claims).
    const claims = (namespace: string, name: string) => ({
      aud: ['gatehouse'],
      jti: 'e51f1fbc-4733-4b85-a59f-ba80c0523874',
      'kubernetes.io': {
        namespace,
        node: { name: 'worker-1', uid: '517eb86e-b863-451b-bf70-86cb61439a3a' },
        pod: { name: `${name}-7c9d`, uid: '0d8b260e-ef0e-45fb-be8e-ff44f97722e8' },
        serviceaccount: { name, uid: 'e6a8680e-d103-4cce-80ea-03acbbeacf7d' },
        warnafter: Math.floor(Date.now() / 1000) + 240,
      },
      sub: `system:serviceaccount:${namespace}:${name}`,
    });
    const api = await r.verify(claims('payments', 'api'));
    assert.deepEqual(api.groups, ['ns:payments', 'sa:payments/api']);
    assert.equal(r.decide(api, 'write'), 'allow');
    const worker = await r.verify(claims('payments', 'worker'));
    assert.equal(r.decide(worker, 'read'), 'allow', 'the subject glob admits the namespace');
    assert.equal(r.decide(worker, 'write'), 'deny');
    const other = await r.verify(claims('default', 'api'));
    assert.deepEqual(other.groups, ['ns:default', 'sa:default/api']);
    assert.equal(r.decide(other, 'read'), 'deny');
  });

  test('Keycloak: realm and client roles are groups; the client id is the subject', async () => {
    const r = await load('keycloak');
    // A client-credentials access token as Keycloak issues it (service account of client report-builder).
    const claims = {
      exp: Math.floor(Date.now() / 1000) + 300,
      jti: 'd58f5dc8-fd8f-462b-8a19-716f8f83985b',
      aud: ['gatehouse', 'account'],
      sub: '36fa0f91-f94d-4a0c-afed-6b7d952e47da',
      typ: 'Bearer',
      azp: 'report-builder',
      acr: '1',
      'allowed-origins': ['/*'],
      realm_access: { roles: ['offline_access', 'default-roles-acme', 'uma_authorization', 'llm-users'] },
      resource_access: {
        gatehouse: { roles: ['reports'] },
        account: { roles: ['manage-account', 'view-profile'] },
      },
      scope: 'profile email',
      clientHost: '10.0.0.7',
      email_verified: false,
      preferred_username: 'service-account-report-builder',
      clientAddress: '10.0.0.7',
      client_id: 'report-builder',
    };
    const identity = await r.verify(claims);
    assert.equal(identity.subject, 'report-builder');
    assert.deepEqual(identity.groups, [
      'default-roles-acme',
      'llm-users',
      'offline_access',
      'reports',
      'uma_authorization',
    ]);
    assert.equal(r.decide({ ...identity, groups: identity.groups }, 'read'), 'allow');
    const without = await r.verify({ ...claims, realm_access: { roles: ['offline_access'] } });
    assert.equal(r.decide(without, 'read'), 'deny');
  });

  test('generic OIDC (RFC 9068 access token): groups claim and client group; an ID token is refused', async () => {
    const r = await load('generic-oidc');
    const claims = {
      aud: 'gatehouse',
      sub: 'svc-report-builder',
      client_id: 'report-builder',
      scope: 'openid search.read',
      jti: 'f1c2d3',
      groups: ['analytics'],
    };
    const identity = await r.verify(claims, 'at+jwt');
    assert.deepEqual(identity.groups, ['analytics', 'client:report-builder']);
    assert.equal(r.decide(identity, 'read'), 'allow');
    await assert.rejects(r.verify(claims, 'JWT'), /not accepted/);
  });
});
