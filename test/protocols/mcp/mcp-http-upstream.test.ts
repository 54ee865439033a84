import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  McpError,
  ResourceUpdatedNotificationSchema,
  SubscribeRequestSchema,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { QuotaStore } from '../../../src/quotas/quota-store.js';
import { temporaryDirectory } from '../../support/temp-dir.js';
import { type McpGateway, startMcpGateway } from './mcp-harness.js';

const UPSTREAM_SECRET = 'Bearer upstream-secret-7f3a';

/** A real Streamable HTTP MCP server (the SDK's McpServer), counting calls and keeping every request's headers. */
class HttpCountingServer {
  readonly headers: IncomingHttpHeaders[] = [];
  readonly calls: string[] = [];
  readonly messages: string[] = [];
  /** The progress token each call of `steps` arrived with. */
  readonly progressTokens: unknown[] = [];
  /** Calls of `slow` whose cancellation reached the server. */
  readonly cancelled: string[] = [];
  /** Resource subscriptions the server was asked for and asked to end, in order. */
  readonly subscribed: string[] = [];
  readonly unsubscribed: string[] = [];
  readonly mcp = new McpServer(
    { name: 'http-counting', version: '1.0.0' },
    { capabilities: { resources: { subscribe: true, listChanged: true } } },
  );
  private readonly server: Server;
  private readonly transport: StreamableHTTPServerTransport;

  /** `json`: answers POSTs with a JSON body instead of an event stream (both are Streamable HTTP). */
  constructor(json = false) {
    this.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: json,
    });
    for (const uri of ['memo://public/one', 'memo://secret'])
      this.mcp.registerResource(uri, uri, {}, async () => ({ contents: [{ uri, text: `the memo ${uri}` }] }));
    this.mcp.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      this.subscribed.push(request.params.uri);
      return {};
    });
    this.mcp.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
      this.unsubscribed.push(request.params.uri);
      return {};
    });
    this.mcp.registerTool(
      'echo',
      { description: 'Echoes.', inputSchema: { message: z.string() } },
      async ({ message }) => {
        this.calls.push('echo');
        this.messages.push(message);
        return { content: [{ type: 'text', text: message }] };
      },
    );
    this.mcp.registerTool('big', { description: 'A large answer.', inputSchema: {} }, async () => {
      this.calls.push('big');
      return { content: [{ type: 'text', text: 'x'.repeat(10_000) }] };
    });
    this.mcp.registerTool('huge', { description: 'Far too large to read.', inputSchema: {} }, async () => {
      this.calls.push('huge');
      return { content: [{ type: 'text', text: 'y'.repeat(200_000) }] };
    });
    this.mcp.registerTool('slow', { description: 'Answers late.', inputSchema: {} }, async (_args, extra) => {
      this.calls.push('slow');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      if (extra.signal.aborted) this.cancelled.push('slow');
      return { content: [{ type: 'text', text: 'late' }] };
    });
    // Reports progress on each step (when the caller asked for it), with personal data in the message.
    this.mcp.registerTool('steps', { description: 'Three steps.', inputSchema: {} }, async (_args, extra) => {
      this.calls.push('steps');
      this.progressTokens.push(extra._meta?.progressToken);
      for (let step = 1; step <= 3; step++) {
        if (extra._meta?.progressToken === undefined) continue;
        await extra.sendNotification({
          method: 'notifications/progress',
          params: {
            progressToken: extra._meta.progressToken,
            progress: step * 10,
            total: 30,
            message: `step ${step}: mailed bob@example.org`,
          },
        });
      }
      return { content: [{ type: 'text', text: 'done' }] };
    });
    // Pings the client (the gateway), which must answer.
    this.mcp.registerTool('pings', { description: 'Pings.', inputSchema: {} }, async () => {
      await this.mcp.server.ping();
      return { content: [{ type: 'text', text: 'pong' }] };
    });
    // Asks the client (the gateway) for a model completion: the gateway offers no sampling, so it must say so.
    this.mcp.registerTool('asks', { description: 'Samples.', inputSchema: {} }, async () => {
      this.calls.push('asks');
      const answer = await this.mcp.server
        .createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 })
        .then(
          () => 'answered',
          (error: unknown) => `refused: ${error instanceof McpError ? error.code : String(error)}`,
        );
      return { content: [{ type: 'text', text: answer }] };
    });
    this.server = createServer((req, res) => {
      this.headers.push(req.headers);
      void this.transport.handleRequest(req, res);
    });
  }

  async start(port = 0): Promise<string> {
    await this.mcp.connect(this.transport);
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/mcp`;
  }

  async stop(): Promise<void> {
    await this.mcp.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('MCP through the gateway to a Streamable HTTP server: credential, budgets, result size, list changes', () => {
  let upstream: HttpCountingServer;
  let mcp: McpGateway;
  let url: string;

  before(async () => {
    upstream = new HttpCountingServer();
    url = await upstream.start();
    process.env.GH_TEST_MCP_SECRET = UPSTREAM_SECRET;
    mcp = await startMcpGateway(
      temporaryDirectory('gh-mcp-http-'),
      `
  - name: remote
    protocol: mcp
    upstream: { transport: http, url: ${url}, credential: { value: "\${env:GH_TEST_MCP_SECRET}" } }
    maxResultBytes: 2048
    callTimeout: 500ms
    maskArguments: true
    masking: {}
    callBudgets: [{ tools: echo, calls: 3, window: 1h }]
    policy:
      - groups: [agents]
        targets: ["*"]
        allow: [write]
      - groups: [readers]
        targets: ["memo://public/*"]
        allow: [read]`,
    );
  });
  after(async () => {
    await mcp?.stop();
    await upstream?.stop();
  });

  it("sends the resource's credential upstream, never the caller's token", async () => {
    const agent = await mcp.client('remote', 'agent-1', ['agents']);
    const result = await agent.callTool({ name: 'echo', arguments: { message: 'hi' } });
    assert.match(JSON.stringify(result), /hi/);
    assert.ok(upstream.headers.length > 0);
    for (const headers of upstream.headers) assert.equal(headers.authorization, UPSTREAM_SECRET);
  });

  it('masks arguments before the server sees them when the resource says so, and records the counts', async () => {
    const agent = await mcp.client('remote', 'agent-6', ['agents']);
    const result = await agent.callTool({ name: 'echo', arguments: { message: 'mail bob@example.org now' } });
    assert.doesNotMatch(upstream.messages.at(-1) ?? '', /bob@example\.org/);
    assert.match(upstream.messages.at(-1) ?? '', /^mail .+ now$/);
    assert.doesNotMatch(JSON.stringify(result), /bob@example\.org/);
    const events = await mcp.events();
    assert.ok(events.some((e) => e.type === 'operation' && e.payload.maskedRequest !== undefined));
    assert.doesNotMatch(JSON.stringify(events), /bob@example\.org/);
  });

  it('refuses a call over its budget with a JSON-RPC error, before the server', async () => {
    const agent = await mcp.client('remote', 'agent-2', ['agents']);
    for (const message of ['1', '2', '3']) await agent.callTool({ name: 'echo', arguments: { message } });
    const before = upstream.calls.length;
    const error = await agent.callTool({ name: 'echo', arguments: { message: '4' } }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32005);
    assert.equal(upstream.calls.length, before);
    // Counted in the store's quota table (shared by replicas on one store), three calls and no more.
    const usage = await new QuotaStore(mcp.gateway.services.store).list(Date.now());
    const mine = usage.filter((row) => row.bucket.includes(' agent-2 ') && row.bucket.endsWith('tool:echo'));
    assert.deepEqual(
      mine.map((row) => ({ used: row.usedRequests, reserved: row.reservedRequests, limit: row.requestLimit })),
      [{ used: 3, reserved: 0, limit: 3 }],
    );
    // Budgets are per identity: another caller still has its own.
    const other = await mcp.client('remote', 'agent-3', ['agents']);
    await other.callTool({ name: 'echo', arguments: { message: 'mine' } });
  });

  it('refuses a result over maxResultBytes', async () => {
    const agent = await mcp.client('remote', 'agent-4', ['agents']);
    const error = await agent.callTool({ name: 'big', arguments: {} }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32007);
  });

  it('refuses a result too large to read at all, and the session with the server stays usable', async () => {
    const agent = await mcp.client('remote', 'agent-9', ['agents']);
    const error = await agent.callTool({ name: 'huge', arguments: {} }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32007);
    const sessions = upstream.headers.filter((h) => h['mcp-session-id'] !== undefined).map((h) => h['mcp-session-id']);
    const other = await mcp.client('remote', 'agent-10', ['agents']);
    await other.callTool({ name: 'echo', arguments: { message: 'still here' } });
    // No new upstream session: the gateway kept the one it had.
    assert.equal(upstream.headers.at(-1)?.['mcp-session-id'], sessions.at(-1));
    const events = await mcp.events();
    assert.ok(
      events.some((e) => e.type === 'operation.result' && e.payload.error === 'mcp.result_too_large' && e.payload.seq),
    );
  });

  it('answers a call the server does not finish within callTimeout with an error, and cancels it upstream', async () => {
    const agent = await mcp.client('remote', 'agent-11', ['agents']);
    const error = await agent.callTool({ name: 'slow', arguments: {} }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32001);
    assert.match(error.message, /did not answer in time/);
    // The server saw notifications/cancelled: its handler's signal was aborted before it finished.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.deepEqual(upstream.cancelled, ['slow']);
  });

  it("relays the server's progress to a caller that asked for it, masked, and records how many", async () => {
    const agent = await mcp.client('remote', 'agent-14', ['agents']);
    const seen: { progress: number; total?: number; message?: string }[] = [];
    await agent.callTool({ name: 'steps', arguments: {} }, undefined, { onprogress: (p) => seen.push({ ...p }) });
    assert.deepEqual(
      seen.map((p) => [p.progress, p.total]),
      [
        [10, 30],
        [20, 30],
        [30, 30],
      ],
    );
    for (const p of seen) {
      assert.match(p.message ?? '', /^step \d: mailed /);
      assert.doesNotMatch(p.message ?? '', /bob@example\.org/);
    }
    // A caller that did not ask gets none, and the server gets no token to report against.
    await agent.callTool({ name: 'steps', arguments: {} });
    assert.equal(typeof upstream.progressTokens.at(-2), 'number');
    assert.equal(upstream.progressTokens.at(-1), undefined);
    const results = (await mcp.events()).filter((e) => e.type === 'operation.result' && e.payload.notifications === 3);
    assert.equal(results.length, 1);
    assert.deepEqual(results[0]?.payload.masked, { email: 3 });
  });

  it("refuses the server's own requests (sampling), which the gateway does not offer, and answers its ping", async () => {
    const agent = await mcp.client('remote', 'agent-12', ['agents']);
    const result = await agent.callTool({ name: 'asks', arguments: {} });
    assert.match(JSON.stringify(result), /refused: -32601/);
    // A ping is answered, as every side must.
    assert.match(JSON.stringify(await agent.callTool({ name: 'pings', arguments: {} })), /pong/);
  });

  it("relays the server's tool list change on the caller's GET stream", async () => {
    const agent = await mcp.client('remote', 'agent-5', ['agents']);
    const changed = new Promise<void>((resolve) =>
      agent.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve()),
    );
    // The SDK client opens its GET stream after initializing; give it a moment, then change the server's tools.
    await new Promise((resolve) => setTimeout(resolve, 200));
    upstream.mcp.registerTool('late', { description: 'Added later.', inputSchema: {} }, async () => ({ content: [] }));
    await changed;
    assert.ok((await agent.listTools()).tools.some((t) => t.name === 'late'));
    const events = await mcp.events();
    assert.ok(
      events.some((e) => e.type === 'operation' && e.payload.action === 'server notifications/tools/list_changed'),
    );
  });

  it('reaches a server that answers with JSON bodies rather than event streams', async () => {
    const json = new HttpCountingServer(true);
    const jsonUrl = await json.start();
    const other = await startMcpGateway(
      temporaryDirectory('gh-mcp-json-'),
      `
  - name: plain
    protocol: mcp
    upstream: { transport: http, url: ${jsonUrl} }
    policy:
      - groups: [agents]
        targets: ["*"]
        allow: [write]`,
    );
    try {
      const agent = await other.client('plain', 'agent-13', ['agents']);
      assert.deepEqual((await agent.listTools()).tools.map((t) => t.name).sort(), [
        'asks',
        'big',
        'echo',
        'huge',
        'pings',
        'slow',
        'steps',
      ]);
      const result = await agent.callTool({ name: 'echo', arguments: { message: 'as json' } });
      assert.match(JSON.stringify(result), /as json/);
      assert.deepEqual(json.messages, ['as json']);
    } finally {
      await other.stop();
      await json.stop();
    }
  });

  it('subscribes once upstream for many callers, fans updates out to the subscribed, and ends with the last', async () => {
    const first = await mcp.client('remote', 'reader-1', ['readers']);
    const second = await mcp.client('remote', 'reader-2', ['readers']);
    const updates = (client: typeof first) => {
      const seen: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void seen.push(n.params.uri));
      return seen;
    };
    const firstSeen = updates(first);
    const secondSeen = updates(second);
    await first.subscribeResource({ uri: 'memo://public/one' });
    await second.subscribeResource({ uri: 'memo://public/one' });
    assert.deepEqual(upstream.subscribed, ['memo://public/one'], 'one subscription on the server for both');
    // Not readable by readers: refused, and the server never asked.
    const error = await first.subscribeResource({ uri: 'memo://secret' }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32003);
    assert.deepEqual(upstream.subscribed, ['memo://public/one']);
    // The SDK clients open their GET streams after initializing: give them a moment, then update.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await upstream.mcp.server.sendResourceUpdated({ uri: 'memo://public/one' });
    await upstream.mcp.server.sendResourceUpdated({ uri: 'memo://secret' });
    await waitUntil(
      () => firstSeen.length > 0 && secondSeen.length > 0,
      3_000,
      () => JSON.stringify({ firstSeen, secondSeen }),
    );
    assert.deepEqual(firstSeen, ['memo://public/one']);
    assert.deepEqual(secondSeen, ['memo://public/one']);
    // The first leaves: the server's subscription stays for the second, and ends when its session ends.
    await first.unsubscribeResource({ uri: 'memo://public/one' });
    assert.deepEqual(upstream.unsubscribed, []);
    // DELETE ends the second's session at the gateway.
    await (second.transport as StreamableHTTPClientTransport).terminateSession();
    await waitUntil(
      () => upstream.unsubscribed.length > 0,
      3_000,
      () => 'unsubscribed',
    );
    assert.deepEqual(upstream.unsubscribed, ['memo://public/one']);
    const events = await mcp.events();
    const delivered = events.filter(
      (e) => e.type === 'operation' && e.payload.action === 'server notifications/resources/updated',
    );
    assert.equal(delivered.length, 2, 'recorded in each subscribed session');
  });

  it('connects afresh after the server restarted and forgot the gateway', async () => {
    const agent = await mcp.client('remote', 'agent-8', ['agents']);
    await agent.callTool({ name: 'echo', arguments: { message: 'before' } });
    const reader = await mcp.client('remote', 'reader-3', ['readers']);
    await reader.subscribeResource({ uri: 'memo://public/one' });
    await upstream.stop();
    upstream = new HttpCountingServer();
    await upstream.start(Number(new URL(url).port));
    // The first call after the restart fails (the server forgot the session); none is retried behind the caller.
    const failed = await agent.callTool({ name: 'echo', arguments: { message: 'lost' } }).catch((e: unknown) => e);
    assert.ok(failed instanceof McpError);
    assert.equal(failed.code, -32001);
    const after = await agent.callTool({ name: 'echo', arguments: { message: 'after' } });
    assert.match(JSON.stringify(after), /after/);
    assert.deepEqual(upstream.messages, ['after']);
    // The new session on the server has the subscription again, made by the gateway when it reconnected.
    await waitUntil(
      () => upstream.subscribed.length > 0,
      3_000,
      () => 'the subscription renewed',
    );
    assert.deepEqual(upstream.subscribed, ['memo://public/one']);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 3_000, what = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
