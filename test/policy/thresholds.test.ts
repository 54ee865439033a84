import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import type { Operation, OperationEstimates } from '../../src/core/operation.js';
import { PolicyEngine } from '../../src/policy/engine.js';

const CONFIG = `
identity: { devIssuer: { enabled: true } }
resources:
  - name: db
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [analysts]
        allow: [read]
        maxCost: 10000
        maxRows: { limit: 1000000, over: deny }
        maxResultRows: 5000
        maxResultBytes: 1048576
        approvers: [dba]
      - groups: [indexers]
        allow: [read, write]
        review: [delete-without-where]
        maxRows: 1000
        over: deny
      - groups: [oncall]
        allow: [read, write]
  - name: llm
    protocol: http
    target: http://127.0.0.1:9
    pathPrefix: /llm
    profile: openai
    policy:
      - groups: [apps]
        allow: [read, write]
        maxCostUsd: 2
        approvers: [finance]
`;

const engine = new PolicyEngine(parseConfig(CONFIG, '/tmp/thresholds.yaml').config.resources);

function op(kind: Operation['kind'], estimates?: OperationEstimates, resource = 'db'): Operation {
  return {
    protocol: resource === 'db' ? 'postgres' : 'http',
    resource,
    kind,
    tags: [],
    action: kind,
    text: '',
    ...(estimates === undefined ? {} : { estimates }),
  };
}
const as = (...groups: string[]) => ({ identity: { groups } });

describe('thresholds in policy rules', () => {
  test('under the limits: allowed, with the result limits the protocol enforces', () => {
    const decision = engine.decide(op('read', { cost: 9000, rows: 10 }), as('analysts'));
    assert.equal(decision.verdict, 'allow');
    assert.equal(decision.reason, 'rule-allows');
    assert.deepEqual(decision.resultLimits, { rows: 5000, bytes: 1048576 });
    assert.equal(decision.threshold, undefined);
  });

  test('over maxCost: review, and the decision names figure and limit', () => {
    const decision = engine.decide(op('read', { cost: 250000.5, rows: 10 }), as('analysts'));
    assert.equal(decision.verdict, 'review');
    assert.equal(decision.reason, 'threshold-exceeded');
    assert.deepEqual(decision.threshold, {
      figure: 'cost',
      limitName: 'maxCost',
      value: 250000.5,
      limit: 10000,
      over: 'review',
    });
    assert.equal(decision.rule.selector, 'review: estimated cost 250000.5 over maxCost 10000');
    assert.match(decision.message, /estimated cost 250000\.5 over maxCost 10000/);
    assert.deepEqual(decision.approverGroups, ['dba']);
    assert.equal(decision.resultLimits, undefined, 'result limits only come with allow');
  });

  test('a threshold with over: deny wins over one that reviews', () => {
    const decision = engine.decide(op('read', { cost: 250000, rows: 5000000 }), as('analysts'));
    assert.equal(decision.verdict, 'deny');
    assert.equal(decision.threshold?.limitName, 'maxRows');
  });

  test('the rule-level over applies to thresholds that name none', () => {
    assert.equal(engine.decide(op('write', { rows: 1001 }), as('indexers')).verdict, 'deny');
    assert.equal(engine.decide(op('write', { rows: 1000 }), as('indexers')).verdict, 'allow');
  });

  test('a figure the protocol could not supply is not judged: the kind decides', () => {
    assert.equal(engine.decide(op('read'), as('analysts')).verdict, 'allow');
    assert.equal(engine.decide(op('read', { usd: 99 }), as('analysts')).verdict, 'allow');
  });

  test("a threshold limits its own rule only: another rule of the caller's groups may still allow", () => {
    assert.equal(engine.decide(op('write', { rows: 50000 }), as('indexers', 'oncall')).verdict, 'allow');
    assert.equal(engine.decide(op('write', { rows: 50000 }), as('indexers')).verdict, 'deny');
  });

  test('thresholds never lower a verdict, and never apply to what the rule does not grant', () => {
    const tagged: Operation = { ...op('write', { rows: 1 }), tags: ['delete-without-where'] };
    assert.equal(engine.decide(tagged, as('indexers')).verdict, 'review');
    assert.equal(engine.decide(op('ddl', { rows: 1 }), as('indexers')).reason, 'no-matching-rule');
  });

  test('LLM worst-case cost over maxCostUsd: review by finance', () => {
    const decision = engine.decide(op('write', { usd: 2.4 }, 'llm'), as('apps'));
    assert.equal(decision.verdict, 'review');
    assert.deepEqual(decision.approverGroups, ['finance']);
    assert.match(decision.rule.selector, /estimated usd 2\.4 over maxCostUsd 2/);
    assert.equal(engine.decide(op('write', { usd: 0.01 }, 'llm'), as('apps')).verdict, 'allow');
  });

  test('wantedEstimates: the figures a protocol needs to measure for this caller, and none for others', () => {
    assert.deepEqual(engine.wantedEstimates('db', { groups: ['analysts'] }).sort(), ['cost', 'rows']);
    assert.deepEqual(engine.wantedEstimates('db', { groups: ['oncall'] }), []);
    assert.deepEqual(engine.wantedEstimates('llm', { groups: ['apps'] }), ['usd']);
  });

  test('the schema refuses negative limits, a fractional maxRows and unknown actions, with the field named', () => {
    const bad = (rule: string) => () =>
      parseConfig(
        `identity: { devIssuer: { enabled: true } }
resources:
  - name: db
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [a]
        allow: [read]
        ${rule}
`,
        '/tmp/bad.yaml',
      );
    assert.throws(bad('maxCost: -1'), (e: ConfigError) => e instanceof ConfigError && /maxCost/.test(e.message));
    assert.throws(bad('maxRows: 1.5'), (e: ConfigError) => e instanceof ConfigError && /maxRows/.test(e.message));
    assert.throws(bad('maxPoints: { limit: 5, over: allow }'), (e: ConfigError) => /maxPoints/.test(e.message));
    assert.throws(bad('over: ignore'), (e: ConfigError) => /over/.test(e.message));
    assert.doesNotThrow(bad('maxPoints: { limit: 100 }'));
  });
  test('collection-delete is reviewed unless the rule names it', () => {
    const { config } = parseConfig(
      `identity: { devIssuer: { enabled: true } }
resources:
  - name: vec
    protocol: http
    target: http://127.0.0.1:9
    pathPrefix: /vec
    profile: qdrant
    policy:
      - { groups: [indexers], allow: [read, write, ddl], approvers: [owners] }
      - { groups: [ops], allow: [read, write, ddl, collection-delete] }
`,
      '/tmp/vec.yaml',
    );
    const vectors = new PolicyEngine(config.resources);
    const drop: Operation = { ...op('ddl', undefined, 'vec'), tags: ['collection-delete'] };
    const held = vectors.decide(drop, as('indexers'));
    assert.equal(held.verdict, 'review');
    assert.equal(held.rule.selector, 'implicit review: collection-delete');
    assert.equal(vectors.decide(drop, as('ops')).verdict, 'allow');
    assert.equal(vectors.decide(op('ddl', undefined, 'vec'), as('indexers')).verdict, 'allow');
  });
});
