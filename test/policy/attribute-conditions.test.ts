import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policyRuleSchema } from '../../src/config/policy-rule-schema.js';
import type { ResourceConfig } from '../../src/config/schema.js';
import type { Operation } from '../../src/core/operation.js';
import { PolicyEngine } from '../../src/policy/engine.js';

function engine(rules: unknown[]): PolicyEngine {
  const policy = rules.map((rule) => policyRuleSchema.parse(rule));
  return new PolicyEngine([{ name: 'tools', policy } as unknown as ResourceConfig]);
}

const call = (target: string, attributes?: Record<string, unknown>, kind: Operation['kind'] = 'write'): Operation => ({
  protocol: 'mcp',
  resource: 'tools',
  kind,
  tags: [],
  action: 'tools/call',
  text: `tools/call ${target}`,
  target,
  ...(attributes === undefined ? {} : { attributes }),
});
const caller = { identity: { groups: ['agents'] } };

describe('policy rules with targets and conditions on operation attributes', () => {
  const policy = engine([
    { groups: ['agents'], targets: ['echo', 'read_*'], allow: ['write'] },
    {
      groups: ['agents'],
      targets: ['transfer'],
      conditions: {
        amount: { min: 1, max: 100 },
        account: { pattern: 'acct-*' },
        'options.mode': { oneOf: ['fast', 'safe'] },
        force: { present: false },
      },
      allow: ['write'],
    },
    { groups: ['agents'], targets: ['delete_file'], conditions: { path: { pattern: '/keep/*' } }, deny: ['write'] },
    { groups: ['agents'], targets: ['delete_file'], allow: ['write'] },
  ]);
  const ok = { amount: 100, account: 'acct-1', options: { mode: 'safe' } };

  it('a rule naming targets speaks for those only (wildcards too)', () => {
    assert.equal(policy.decide(call('echo'), caller).verdict, 'allow');
    assert.equal(policy.decide(call('read_file'), caller).verdict, 'allow');
    assert.equal(policy.decide(call('write_file'), caller).verdict, 'deny');
    assert.equal(policy.decide({ ...call('x'), target: undefined } as Operation, caller).verdict, 'deny');
  });

  it('equality, list, pattern, numeric bounds, nested paths and absence all have to hold', () => {
    assert.equal(policy.decide(call('transfer', ok), caller).verdict, 'allow');
    for (const bad of [
      { ...ok, amount: 101 },
      { ...ok, amount: 0 },
      { ...ok, amount: '50' },
      { ...ok, amount: Number.NaN },
      { ...ok, account: 'savings-1' },
      { ...ok, account: ['acct-1'] },
      { ...ok, options: { mode: 'yolo' } },
      { ...ok, force: true },
      { account: 'acct-1', options: { mode: 'safe' } },
    ]) {
      assert.equal(policy.decide(call('transfer', bad), caller).verdict, 'deny', JSON.stringify(bad));
    }
    assert.equal(policy.decide(call('transfer'), caller).verdict, 'deny', 'no arguments: an allow-list cannot hold');
  });

  it('a denying rule applies when its condition holds, and when a value cannot be judged', () => {
    assert.equal(policy.decide(call('delete_file', { path: '/keep/a' }), caller).verdict, 'deny');
    assert.equal(policy.decide(call('delete_file', { path: '/tmp/a' }), caller).verdict, 'allow');
    assert.equal(policy.decide(call('delete_file', { path: 42 }), caller).verdict, 'deny');
    assert.equal(policy.decide(call('delete_file', { path: '/tmp/../keep/a' }), caller).verdict, 'deny');
    const decision = policy.decide(call('delete_file', { path: '/keep/a' }), caller);
    assert.match(decision.message, /resources\.tools\.policy\[2\]/);
    assert.match(decision.rule.selector, /path ~ \/keep\/\*/);
  });

  it('a dot-dot segment never satisfies an allowing pattern', () => {
    const fs = engine([
      { groups: ['agents'], targets: ['write_file'], conditions: { path: { pattern: '/out/*' } }, allow: ['write'] },
    ]);
    assert.equal(fs.decide(call('write_file', { path: '/out/a' }), caller).verdict, 'allow');
    for (const path of ['/out/../etc/passwd', '/out/..', '/out/a/..\\..\\b'])
      assert.equal(fs.decide(call('write_file', { path }), caller).verdict, 'deny', path);
  });

  it('listing mode: a conditional allow shows the target, a conditional deny does not hide it, session is granted', () => {
    const listing = { ...caller, listing: true };
    assert.equal(policy.decide(call('transfer'), listing).verdict, 'allow');
    assert.equal(policy.decide(call('delete_file'), listing).verdict, 'allow');
    assert.equal(policy.decide(call('write_file'), listing).verdict, 'deny');
    const session = { ...call('x'), target: undefined, kind: 'session' } as Operation;
    assert.equal(policy.decide(session, caller).verdict, 'allow');
    assert.equal(policy.decide(session, { identity: { groups: ['strangers'] } }).verdict, 'deny');
  });

  it('a target with a dot-dot segment is not allowed by a glob, but still denied by one', () => {
    const uris = engine([
      { groups: ['agents'], targets: ['file:///keep/*'], deny: ['read'] },
      { groups: ['agents'], targets: ['file:///srv/data/*'], allow: ['read'] },
      { groups: ['agents'], targets: ['file:///srv/exact/../odd'], allow: ['read'] },
    ]);
    const read = (uri: string) =>
      uris.decide({ ...call(uri, undefined, 'read'), action: 'resources/read' }, caller).verdict;
    assert.equal(read('file:///srv/data/a.txt'), 'allow');
    assert.equal(read('file:///srv/data/../../etc/passwd'), 'deny');
    assert.equal(read('file:///keep/../keep/secret'), 'deny');
    assert.equal(read('file:///srv/data/%2e%2E/%2E./etc/passwd'), 'deny');
    assert.equal(read('file:///srv/data/a..b/c'), 'allow', 'dots inside a name are no segment');
    assert.equal(read('file:///srv/exact/../odd'), 'allow', 'an exact name is what it says');
  });
});
