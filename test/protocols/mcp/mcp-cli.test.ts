import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { runCli } from '../../cli/cli-run.js';
import { temporaryDirectory } from '../../support/temp-dir.js';
import { countingResource, startMcpGateway } from './mcp-harness.js';

const POLICY = `
      - groups: [agents]
        targets: [echo, customer]
        allow: [write]
      - groups: [agents]
        targets: [transfer]
        conditions: { amount: { max: 100 } }
        allow: [write]`;

describe('MCP in the CLI: policy explain --mcp-tool, sessions replay, report', () => {
  let dir: string;
  let config: string;
  let sessionId: string;

  before(async () => {
    dir = temporaryDirectory('gh-mcp-cli-');
    config = join(dir, 'gatehouse.yaml');
    const mcp = await startMcpGateway(
      dir,
      countingResource(join(dir, 'calls.jsonl'), 'Echoes.', POLICY, '    masking: {}'),
    );
    try {
      const agent = await mcp.client('tools', 'agent-7', ['agents']);
      await agent.listTools();
      await agent.callTool({ name: 'echo', arguments: { message: 'first' } });
      await agent.callTool({ name: 'echo', arguments: { message: 'second' } });
      await agent.callTool({ name: 'customer', arguments: { id: 'c-9' } });
      const denied = await agent
        .callTool({ name: 'transfer', arguments: { account: 'a', amount: 1000 } })
        .catch((e) => e);
      assert.ok(denied instanceof McpError);
      const events = await mcp.events();
      sessionId = events.find((e) => e.type === 'session.start' && e.payload.subject === 'agent-7')
        ?.sessionId as string;
    } finally {
      await mcp.stop();
    }
  });
  after(() => undefined);

  it('policy explain --mcp-tool judges the arguments and names the rule', async () => {
    const explainTransfer = (args: string) =>
      runCli([
        'policy',
        'explain',
        '--config',
        config,
        '--resource',
        'tools',
        '--groups',
        'agents',
        '--mcp-tool',
        'transfer',
        '--args',
        args,
      ]);
    const allowed = await explainTransfer('{"account": "a", "amount": 50}');
    assert.equal(allowed.code, 0, allowed.stderr);
    const out = JSON.parse(allowed.stdout) as { decision: string; rule: { id: string; selector: string } };
    assert.equal(out.decision, 'allow');
    assert.equal(out.rule.id, 'resources.tools.policy[1]');
    assert.match(out.rule.selector, /amount <= 100/);
    const denied = await explainTransfer('{"account": "a", "amount": 500}');
    assert.equal(denied.code, 3);
    assert.equal((JSON.parse(denied.stdout) as { decision: string }).decision, 'deny');
  });

  it('sessions replay shows the MCP session as a readable exchange, results masked', async () => {
    const replay = await runCli(['sessions', 'replay', sessionId, '--config', config]);
    assert.equal(replay.code, 0, replay.stderr);
    for (const expected of [
      /initialize test-agent/,
      /tools\/list/,
      /tools\/call echo \{"message":"first"\}/,
      /deny/,
      /transfer/,
    ])
      assert.match(replay.stdout, expected);
    assert.match(replay.stdout, /customer c-9/);
    assert.doesNotMatch(replay.stdout, /ada\.lovelace@example\.com/);
  });

  it('report counts tool calls per identity', async () => {
    const report = await runCli(['report', '--config', config, '--json']);
    assert.equal(report.code, 0, report.stderr);
    const { access } = JSON.parse(report.stdout) as {
      access: { subject: string; protocol: string; objects: Record<string, number>; denied: number }[];
    };
    const row = access.find((r) => r.subject === 'agent-7' && r.protocol === 'mcp');
    assert.ok(row);
    assert.deepEqual(row.objects, { echo: 2, customer: 1, transfer: 1 });
    assert.equal(row.denied, 1);
    const text = await runCli(['report', '--config', config]);
    assert.match(text.stdout, /tool calls: echo \(2\), customer \(1\), transfer \(1\)/);
  });
});
