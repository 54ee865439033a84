import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextBackoff } from '../../src/agent/backoff.js';
import { parseConfig } from '../../src/config/load.js';
import { preflightIssues } from '../../src/config/preflight.js';
import type { Identity } from '../../src/core/identity.js';
import { AgentPolicy } from '../../src/tunnel/agent-policy.js';
import { parseHello } from '../../src/tunnel/tunnel-protocol.js';

const { config } = parseConfig(
  `
identity: { devIssuer: { enabled: true } }
agents:
  listen: 127.0.0.1:7443
  tls: { cert: c.pem, key: k.pem }
  policy:
    - subjects: [agent-eu-*]
      resources: [orders]
    - groups: [platform]
      resources: ["llm*"]
      agentGroups: [eu]
resources:
  - { name: orders, protocol: postgres, via: agent, target: { host: a, database: o, user: u } }
  - { name: llm, protocol: http, pathPrefix: /llm, via: agent, target: "http://a.invalid" }
  - { name: direct, protocol: postgres, target: { host: a, database: o, user: u } }
`,
  '/tmp/gatehouse.yaml',
  {},
);
const policy = new AgentPolicy(config.agents?.policy ?? [], config.resources);
const identity = (subject: string, groups: string[] = []): Identity => ({
  issuer: 'i',
  subject,
  groups,
  tokenId: 't',
  expiresAt: Date.now() + 60_000,
  claims: {},
});
const hello = (resources: [string, 'postgres' | 'http'][], group?: string) => ({
  token: 't',
  name: 'a',
  ...(group === undefined ? {} : { group }),
  resources: resources.map(([name, protocol]) => ({ name, protocol })),
});

describe('agent policy, hello parsing and backoff', () => {
  test('subjects by wildcard, groups with agent groups, protocol and via must match', () => {
    assert.deepEqual(policy.admit(identity('agent-eu-1'), hello([['orders', 'postgres']])), {
      admitted: true,
      resources: ['orders'],
    });
    assert.equal(policy.admit(identity('agent-us-1'), hello([['orders', 'postgres']])).admitted, false);
    assert.equal(policy.admit(identity('x', ['platform']), hello([['llm', 'http']], 'eu')).admitted, true);
    assert.equal(policy.admit(identity('x', ['platform']), hello([['llm', 'http']], 'us')).admitted, false);
    assert.equal(policy.admit(identity('x', ['platform']), hello([['llm', 'http']])).admitted, false);
    assert.equal(policy.admit(identity('agent-eu-1'), hello([['orders', 'http']])).admitted, false, 'protocol');
    assert.equal(policy.admit(identity('agent-eu-1'), hello([['direct', 'postgres']])).admitted, false, 'via');
    assert.equal(policy.admit(identity('agent-eu-1'), hello([])).admitted, false, 'nothing offered');
  });

  test('a malformed hello is refused', () => {
    for (const text of [
      'null',
      '{}',
      '{"token":"t","name":"a b","resources":[]}',
      '{"token":"t","name":"a","resources":[{"name":"x","protocol":"ftp"}]}',
      '{"token":"t","name":"a","group":5,"resources":[]}',
      'not json',
    ])
      assert.throws(() => parseHello(text), text);
    assert.equal(parseHello('{"token":"t","name":"a","resources":[{"name":"x","protocol":"http"}]}').name, 'a');
  });

  test('backoff doubles up to the cap, with full jitter, never under the minimum', () => {
    assert.equal(
      nextBackoff(0, 100, 5_000, () => 0),
      100,
    );
    assert.equal(
      nextBackoff(3, 100, 5_000, () => 0.999),
      799,
    );
    assert.equal(
      nextBackoff(30, 100, 5_000, () => 0.999),
      4_995,
    );
    assert.equal(
      nextBackoff(1_000, 100, 5_000, () => 0.5),
      2_500,
    );
  });

  test('config check: the agent listener TLS files must exist; via: agent needs an agents section', () => {
    const issues = preflightIssues({ config, file: '/nonexistent/gatehouse.yaml', baseDir: '/nonexistent' });
    assert.deepEqual(
      issues.map((i) => i.path).filter((p) => p.startsWith('agents')),
      ['agents.tls.cert', 'agents.tls.key'],
    );
    assert.throws(
      () =>
        parseConfig(
          `
identity: { devIssuer: { enabled: true } }
resources:
  - { name: orders, protocol: postgres, via: agent, target: { host: a, database: o, user: u } }
`,
          '/tmp/gatehouse.yaml',
          {},
        ),
      /via: agent needs an `agents:` section/,
    );
  });
});
