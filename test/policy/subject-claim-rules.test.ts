import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import type { Operation } from '../../src/core/operation.js';
import { PolicyEngine } from '../../src/policy/engine.js';

const { config } = parseConfig(
  `
identity: { devIssuer: { enabled: true } }
resources:
  - name: db
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - subjects: ["repo:acme/app:*"]
        allow: [read]
      - claims: { iss: https://token.actions.githubusercontent.com, ref: refs/heads/main, environment: [production, staging] }
        allow: [write]
      - groups: [deployers]
        claims: { ref: "refs/tags/v*" }
        allow: [ddl]
`,
  '/tmp/rules.yaml',
);
const engine = new PolicyEngine(config.resources);
const op = (kind: Operation['kind']): Operation => ({
  protocol: 'postgres',
  resource: 'db',
  kind,
  tags: [],
  action: 'X',
  text: 'X',
});

const github = {
  iss: 'https://token.actions.githubusercontent.com',
  ref: 'refs/heads/main',
  environment: 'production',
};

describe('rules that match subjects and claims', () => {
  test('a subject glob admits matching subjects only, and the decision names what matched', () => {
    const allowed = engine.decide(op('read'), {
      identity: { groups: [], subject: 'repo:acme/app:ref:refs/heads/x', claims: {} },
    });
    assert.equal(allowed.verdict, 'allow');
    assert.deepEqual(allowed.rule.matched, ['subject repo:acme/app:*']);
    const other = engine.decide(op('read'), { identity: { groups: [], subject: 'repo:acme/other:ref:x', claims: {} } });
    assert.equal(other.verdict, 'deny');
    assert.equal(other.reason, 'no-matching-rule');
    // A caller without a subject (policy explain with groups only) never matches a subject rule.
    assert.equal(engine.decide(op('read'), { identity: { groups: ['repo:acme/app:x'] } }).verdict, 'deny');
  });

  test('claim conditions: every claim must match; lists admit any of their values', () => {
    const ok = engine.decide(op('write'), { identity: { groups: [], subject: 's', claims: github } });
    assert.equal(ok.verdict, 'allow');
    assert.deepEqual(ok.rule.matched, [
      'claim iss=https://token.actions.githubusercontent.com',
      'claim ref=refs/heads/main',
      'claim environment=production',
    ]);
    assert.equal(
      engine.decide(op('write'), { identity: { groups: [], claims: { ...github, environment: 'staging' } } }).verdict,
      'allow',
    );
    for (const change of [
      { ref: 'refs/heads/feature' },
      { environment: 'dev' },
      { iss: 'https://evil.test' },
      { ref: undefined },
    ]) {
      const decision = engine.decide(op('write'), { identity: { groups: [], claims: { ...github, ...change } } });
      assert.equal(decision.verdict, 'deny', JSON.stringify(change));
    }
  });

  test('groups and claims together: both must hold', () => {
    const tag = { ref: 'refs/tags/v1.0' };
    assert.equal(engine.decide(op('ddl'), { identity: { groups: ['deployers'], claims: tag } }).verdict, 'allow');
    assert.deepEqual(engine.decide(op('ddl'), { identity: { groups: ['deployers'], claims: tag } }).rule.matched, [
      'group deployers',
      'claim ref=refs/tags/v1.0',
    ]);
    assert.equal(
      engine.decide(op('ddl'), { identity: { groups: ['deployers'], claims: { ref: 'refs/heads/main' } } }).verdict,
      'deny',
    );
    assert.equal(engine.decide(op('ddl'), { identity: { groups: [], claims: tag } }).verdict, 'deny');
  });

  test('a rule that names nobody is refused by the config', () => {
    assert.throws(
      () =>
        parseConfig(
          'identity: { devIssuer: { enabled: true } }\nresources:\n  - { name: db, protocol: postgres, target: { host: h, database: d, user: u }, policy: [ { allow: [read] } ] }\n',
          '/tmp/x.yaml',
        ),
      (error: unknown) =>
        error instanceof ConfigError && /at least one of groups, subjects or claims/.test(error.message),
    );
  });
});
