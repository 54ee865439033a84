import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Operation, OperationKind, RiskTag } from '../../src/core/operation.js';
import { PolicyEngine } from '../../src/policy/engine.js';

const { config } = parseConfig(
  `
identity: { devIssuer: { enabled: true } }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: http://127.0.0.1:9
    policy:
      - groups: [rag-readers]
        allow: [read]
        models: [gpt-4o-mini, "text-embedding-*"]
      - groups: [indexers]
        allow: [read, write]
        review: [ddl, delete-without-where]
        deny: [admin]
      - groups: [auditors]
        allow: [read]
      - groups: [banned]
        deny: [read]
      - groups: [dba]
        allow: [admin, ddl, copy-program]
`,
  '/tmp/policy.yaml',
);
const engine = new PolicyEngine(config.resources);

function op(kind: OperationKind, tags: RiskTag[] = [], extra: Partial<Operation> = {}): Operation {
  return { protocol: 'http', resource: 'llm', kind, tags, action: 'X', text: 'X', ...extra };
}
const decide = (operation: Operation, ...groups: string[]) => engine.decide(operation, { identity: { groups } });

describe('policy engine', () => {
  it('allows by kind for the caller’s groups and names the rule', () => {
    const decision = decide(op('read'), 'rag-readers');
    assert.equal(decision.verdict, 'allow');
    assert.equal(decision.rule.id, 'resources.llm.policy[0]');
    assert.equal(decision.rule.selector, 'allow: read');
  });

  it('denies what no rule grants, and callers with no matching group', () => {
    assert.equal(decide(op('write'), 'rag-readers').reason, 'no-matching-rule');
    assert.equal(decide(op('read'), 'strangers').verdict, 'deny');
    assert.equal(decide(op('read')).rule.id, 'default-deny');
  });

  it('lets session control through for readers', () => {
    assert.equal(decide(op('session'), 'rag-readers').verdict, 'allow');
  });

  it('sends risky tags to review even when the kind is allowed', () => {
    const decision = decide(op('write', ['delete-without-where']), 'indexers');
    assert.equal(decision.verdict, 'review');
    assert.equal(decision.rule.selector, 'review: delete-without-where');
    assert.equal(decide(op('ddl', ['drop']), 'indexers').verdict, 'review');
    assert.equal(decide(op('write'), 'indexers').verdict, 'allow');
  });

  it('denies dangerous tags that no rule names, and allows them where one does', () => {
    const decision = decide(op('read', ['file-access']), 'rag-readers');
    assert.equal(decision.verdict, 'deny');
    assert.equal(decision.reason, 'dangerous-tag');
    assert.equal(decide(op('admin', ['copy-program']), 'dba').verdict, 'allow');
  });

  it('lets an explicit deny in any of the caller’s rules win over another group’s allow', () => {
    assert.equal(decide(op('read'), 'auditors', 'banned').verdict, 'deny');
    assert.equal(decide(op('admin'), 'indexers', 'dba').verdict, 'deny');
  });

  it('takes the most permissive of several applicable rules otherwise', () => {
    assert.equal(decide(op('ddl'), 'indexers', 'dba').verdict, 'allow');
  });

  it('checks models against the rule’s list', () => {
    assert.equal(decide(op('read', [], { model: 'gpt-4o-mini' }), 'rag-readers').verdict, 'allow');
    assert.equal(decide(op('read', [], { model: 'text-embedding-3-small' }), 'rag-readers').verdict, 'allow');
    const refused = decide(op('read', [], { model: 'gpt-4o' }), 'rag-readers');
    assert.equal(refused.verdict, 'deny');
    assert.equal(refused.reason, 'model-not-allowed');
    // A group whose rule lists no models admits any model.
    assert.equal(decide(op('read', [], { model: 'gpt-4o' }), 'rag-readers', 'auditors').verdict, 'allow');
  });

  it('fails closed on unknown and unclassifiable operations, whatever the groups', () => {
    assert.equal(decide(op('unknown'), 'dba', 'indexers').reason, 'unknown-operation');
    assert.equal(decide(op('read', [], { unclassifiable: 'bad JSON' }), 'rag-readers').reason, 'unclassifiable');
  });

  it('denies operations on resources without rules', () => {
    assert.equal(decide({ ...op('read'), resource: 'other' }, 'rag-readers').verdict, 'deny');
  });
});
