import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { temporaryDirectory } from '../../support/temp-dir.js';
import { countingResource, type McpGateway, serverRan, startMcpGateway } from './mcp-harness.js';

const POLICY = `
      - groups: [agents]
        targets: [echo, customer, crash]
        allow: [read, write]
      - groups: [agents]
        targets: [transfer]
        conditions: { amount: { max: 100 }, account: { pattern: "acct-*" } }
        allow: [write]
      - groups: [agents]
        targets: [transfer]
        review: [write]
        approvers: [owners]
      - groups: [readers]
        targets: [customer]
        allow: [read]
      - groups: [readers]
        targets: [echo]
        deny: [write]`;

/** The JSON-RPC error a call through the SDK client ended with. */
async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof McpError, `expected a JSON-RPC error, got ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

const text = (result: unknown) =>
  ((result as { content: { type: string; text?: string }[] }).content[0]?.text ?? '') as string;

describe('MCP through the gateway: the SDK client in front of a real counting MCP server (stdio)', () => {
  let dir: string;
  let countFile: string;
  let mcp: McpGateway;
  let agent: Client;

  before(async () => {
    dir = temporaryDirectory('gh-mcp-');
    countFile = join(dir, 'calls.jsonl');
    mcp = await startMcpGateway(
      dir,
      countingResource(
        countFile,
        'Echoes the message back.',
        POLICY,
        '    toolKinds: [{ tools: customer, kind: read }]\n    masking: {}',
      ),
    );
    agent = await mcp.client('tools', 'agent-1', ['agents']);
  });
  after(async () => mcp?.stop());

  it('lists to each caller only the tools policy lets it call', async () => {
    const agents = (await agent.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(agents, ['crash', 'customer', 'echo', 'transfer']);
    const reader = await mcp.client('tools', 'reader-1', ['readers']);
    assert.deepEqual(
      (await reader.listTools()).tools.map((t) => t.name),
      ['customer'],
    );
  });

  it('runs an allowed call on the server and records it with its result', async () => {
    const before = serverRan(countFile, 'echo');
    const result = await agent.callTool({ name: 'echo', arguments: { message: 'hello' } });
    assert.equal(text(result), 'hello');
    assert.equal(serverRan(countFile, 'echo'), before + 1);
    const events = await mcp.events();
    const op = events.find((e) => e.type === 'operation' && e.payload.text === 'tools/call echo {"message":"hello"}');
    assert.ok(op, 'the call is recorded');
    assert.equal(op.payload.verdict, 'allow');
    const result2 = events.find(
      (e) => e.type === 'operation.result' && e.sessionId === op.sessionId && e.payload.seq === op.payload.seq,
    );
    assert.equal(result2?.payload.outcome, 'ok');
  });

  it('denies a call with a JSON-RPC error naming the rule, and the server never sees it', async () => {
    const reader = await mcp.client('tools', 'reader-2', ['readers']);
    const before = serverRan(countFile);
    const error = await rpcError(reader.callTool({ name: 'echo', arguments: { message: 'sneaky' } }));
    assert.equal(error.code, -32003);
    assert.match(error.message, /resources\.tools\.policy\[4\]/);
    // Not listed, not allowed either: the default deny.
    const transfer = await rpcError(reader.callTool({ name: 'transfer', arguments: { account: 'acct-1', amount: 1 } }));
    assert.equal(transfer.code, -32003);
    assert.equal(serverRan(countFile), before, 'the server ran nothing');
    const denied = (await mcp.events()).filter((e) => e.type === 'operation' && e.payload.verdict === 'deny');
    assert.ok(denied.some((e) => String(e.payload.text).includes('sneaky')));
  });

  it('holds an argument condition: within bounds runs, outside it goes to review and does not run', async () => {
    const before = serverRan(countFile, 'transfer');
    const ok = await agent.callTool({ name: 'transfer', arguments: { account: 'acct-7', amount: 100 } });
    assert.equal(text(ok), 'moved 100 from acct-7');
    assert.equal(serverRan(countFile, 'transfer'), before + 1);
    // Over the bound, a string where a number is expected, another account pattern: none runs (each is reviewed).
    for (const args of [
      { account: 'acct-7', amount: 101 },
      { account: 'acct-7', amount: '5' },
      { account: 'savings-1', amount: 5 },
    ]) {
      const error = await rpcError(agent.callTool({ name: 'transfer', arguments: args }));
      assert.equal(error.code, -32004, `${JSON.stringify(args)} is held for review`);
    }
    assert.equal(serverRan(countFile, 'transfer'), before + 1);
  });

  it('runs a held call once after approval, re-sent; and never after denial', async () => {
    const approver = await mcp.token('alice', ['owners']);
    const before = serverRan(countFile, 'transfer');
    const args = { account: 'acct-9', amount: 900 };
    const held = await rpcError(agent.callTool({ name: 'transfer', arguments: args }));
    assert.equal(held.code, -32004);
    const reviewId = (held.data as { reviewId: string }).reviewId;
    assert.match(held.message, /send the same call again once it is approved/);
    assert.equal(serverRan(countFile, 'transfer'), before, 'nothing ran while pending');
    assert.equal((await decide(mcp, reviewId, approver, 'approve')).status, 200);
    const run = await agent.callTool({ name: 'transfer', arguments: args });
    assert.equal(text(run), 'moved 900 from acct-9');
    assert.equal(serverRan(countFile, 'transfer'), before + 1);
    // The approval is spent: the same call again waits for a new review.
    const again = await rpcError(agent.callTool({ name: 'transfer', arguments: args }));
    assert.equal(again.code, -32004);
    assert.notEqual((again.data as { reviewId: string }).reviewId, reviewId);
    assert.equal(serverRan(countFile, 'transfer'), before + 1);

    // Denied while the call is held with progress notifications: it never runs.
    const denyArgs = { account: 'acct-9', amount: 901 };
    const progress: string[] = [];
    const pending = agent.callTool({ name: 'transfer', arguments: denyArgs }, undefined, {
      onprogress: (p) => progress.push(String(p.message)),
      timeout: 30_000,
    });
    const id = await pendingReview(mcp, 'agent-1', approver, '901');
    assert.equal((await decide(mcp, id, approver, 'deny')).status, 200);
    const denied = await rpcError(pending);
    assert.equal(denied.code, -32004);
    assert.ok(
      progress.some((m) => m.includes('review')),
      'the caller was told it waits for a review',
    );
    assert.equal(serverRan(countFile, 'transfer'), before + 1);

    // Held with progress, approved while held: runs once, answered on the same request.
    const heldArgs = { account: 'acct-9', amount: 902 };
    const waiting = agent.callTool({ name: 'transfer', arguments: heldArgs }, undefined, {
      onprogress: () => undefined,
      timeout: 30_000,
    });
    const id2 = await pendingReview(mcp, 'agent-1', approver, '902');
    assert.equal((await decide(mcp, id2, approver, 'approve')).status, 200);
    assert.equal(text(await waiting), 'moved 902 from acct-9');
    assert.equal(serverRan(countFile, 'transfer'), before + 2);
  });

  it('withdraws the review of a held call whose caller went away; it never runs', async () => {
    const approver = await mcp.token('alice', ['owners']);
    const before = serverRan(countFile, 'transfer');
    // The SDK client's own session, spoken to by hand so the request can be cut while it is held.
    const bearer = await mcp.token('agent-9', ['agents']);
    const url = `${mcp.mcpBase}/mcp/tools`;
    const headers = {
      authorization: `Bearer ${bearer}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const init = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      }),
    });
    const session = init.headers.get('mcp-session-id') as string;
    const cut = new AbortController();
    const held = fetch(url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': session },
      signal: cut.signal,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'transfer', arguments: { account: 'acct-5', amount: 555 }, _meta: { progressToken: 'p1' } },
      }),
    }).catch(() => undefined);
    const id = await pendingReview(mcp, 'agent-9', approver, '555');
    cut.abort();
    await held;
    for (let i = 0; i < 100; i++) {
      const review = await fetch(`${mcp.adminBase}/api/reviews/${id}`, {
        headers: { authorization: `Bearer ${approver}` },
      });
      if (((await review.json()) as { review?: { state: string }; state?: string }).review?.state === 'withdrawn')
        break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.notEqual((await decide(mcp, id, approver, 'approve')).status, 200, 'a withdrawn review cannot be approved');
    assert.equal(serverRan(countFile, 'transfer'), before);
  });

  it('masks personal data in text, structured content and embedded resources, and in the record', async () => {
    const result = (await agent.callTool({ name: 'customer', arguments: { id: 'c-1' } })) as {
      content: { type: string; text?: string; resource?: { text?: string; uri: string } }[];
      structuredContent?: Record<string, string>;
    };
    const all = JSON.stringify(result);
    assert.doesNotMatch(all, /ada\.lovelace@example\.com/);
    assert.doesNotMatch(all, /4111 1111 1111 1111/);
    assert.match(result.content[0]?.text ?? '', /^customer c-1: /);
    assert.equal(result.content[1]?.resource?.uri, 'customers://c-1', 'identifiers are left as they are');
    assert.notEqual(result.structuredContent?.email, 'ada.lovelace@example.com');
    assert.equal(result.structuredContent?.name, 'Ada Lovelace');
    const events = await mcp.events();
    assert.doesNotMatch(JSON.stringify(events), /ada\.lovelace@example\.com/);
    const masked = events.find((e) => e.type === 'operation.result' && e.payload.masked !== undefined);
    assert.ok(masked, 'the record counts what was masked');
  });

  it('answers a server that dies mid-call with an error, records it, and starts the server again', async () => {
    const error = await rpcError(agent.callTool({ name: 'crash', arguments: {} }));
    assert.equal(error.code, -32001);
    const after = await agent.callTool({ name: 'echo', arguments: { message: 'still here' } });
    assert.equal(text(after), 'still here');
    const events = await mcp.events();
    assert.ok(events.some((e) => e.type === 'operation.result' && e.payload.error === 'upstream.unavailable'));
  });
});

async function decide(mcp: McpGateway, id: string, bearer: string, action: 'approve' | 'deny') {
  return fetch(`${mcp.adminBase}/api/reviews/${id}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'checked' }),
  });
}

/** The pending review of `subject` whose operation mentions `needle`, as an approver lists it (polled). */
async function pendingReview(mcp: McpGateway, subject: string, approver: string, needle: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const list = await fetch(`${mcp.adminBase}/api/reviews?state=pending`, {
      headers: { authorization: `Bearer ${approver}` },
    });
    const { reviews } = (await list.json()) as {
      reviews: { id: string; requester: { subject: string }; operation: { text: string; bodyExcerpt?: string } }[];
    };
    const found = reviews.find(
      (r) => r.requester.subject === subject && `${r.operation.text} ${r.operation.bodyExcerpt ?? ''}`.includes(needle),
    );
    if (found !== undefined) return found.id;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no pending review for ${subject}`);
}
