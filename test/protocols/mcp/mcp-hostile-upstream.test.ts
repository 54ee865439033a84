import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { temporaryDirectory } from '../../support/temp-dir.js';
import { type McpGateway, startMcpGateway } from './mcp-harness.js';

const TOOLS = ['dies', 'garbage', 'wrong_id', 'leaks', 'ok'].map((name) => ({
  name,
  description: `The ${name} tool.`,
  inputSchema: { type: 'object', properties: {} },
}));

/**
 * A Streamable HTTP server written by hand to misbehave: it speaks the protocol well enough to be connected to and
 * listed, then answers each tool in its own broken way. No SDK server would send these, which is the point: the
 * gateway's own HTTP client must survive what a broken or hostile server sends.
 */
class HostileServer {
  readonly sessions: string[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/mcp`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      id?: number;
      method?: string;
      params?: { name?: string };
    };
    const json = (body: unknown, headers: Record<string, string> = {}): void =>
      void res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === 'initialize') {
      const session = `hostile-${this.sessions.length + 1}`;
      this.sessions.push(session);
      return json(
        {
          jsonrpc: '2.0',
          id: message.id,
          result: {
            protocolVersion: '2025-06-18',
            capabilities: { tools: {} },
            serverInfo: { name: 'hostile', version: '1' },
          },
        },
        { 'mcp-session-id': session },
      );
    }
    if (message.method === 'tools/list') return json({ jsonrpc: '2.0', id: message.id, result: { tools: TOOLS } });
    switch (message.params?.name) {
      case 'dies':
        // An event stream that starts an answer and is cut in the middle of it.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: message\ndata: {"jsonrpc":"2.0","id":${message.id},"res`);
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('this is not json {');
        return;
      case 'wrong_id':
        return json({ jsonrpc: '2.0', id: (message.id ?? 0) + 1000, result: { content: [] } });
      case 'leaks':
        return json({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32050, message: 'backend said no', data: { stack: 'at /srv/internal/secret.js:12' } },
        });
      default:
        return json({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'fine' }] } });
    }
  }
}

describe('MCP in front of a misbehaving Streamable HTTP server: clear errors, no crash, everything recorded', () => {
  let upstream: HostileServer;
  let mcp: McpGateway;

  before(async () => {
    upstream = new HostileServer();
    const url = await upstream.start();
    mcp = await startMcpGateway(
      temporaryDirectory('gh-mcp-hostile-'),
      `
  - name: hostile
    protocol: mcp
    upstream: { transport: http, url: ${url} }
    policy:
      - groups: [agents]
        targets: ["*"]
        allow: [write]`,
    );
  });
  after(async () => {
    await mcp?.stop();
    await upstream?.stop();
  });

  it('answers each broken reply with an upstream error, records it, and keeps serving', async () => {
    const agent = await mcp.client('hostile', 'agent-1', ['agents']);
    for (const tool of ['dies', 'garbage', 'wrong_id']) {
      const error = await agent.callTool({ name: tool, arguments: {} }).catch((e: unknown) => e);
      assert.ok(error instanceof McpError, tool);
      assert.equal(error.code, -32001, tool);
    }
    // The server's own error passes with its code and message, never its data (internals).
    const leaked = await agent.callTool({ name: 'leaks', arguments: {} }).catch((e: unknown) => e);
    assert.ok(leaked instanceof McpError);
    assert.equal(leaked.code, -32050);
    assert.match(leaked.message, /backend said no/);
    assert.doesNotMatch(JSON.stringify(leaked), /secret\.js/);
    // Still serving; a transport failure made it connect afresh rather than reuse a session it could not trust.
    assert.match(JSON.stringify(await agent.callTool({ name: 'ok', arguments: {} })), /fine/);
    assert.ok(upstream.sessions.length > 1, 'a new session after the broken replies');
    const results = (await mcp.events())
      .filter((e) => e.type === 'operation.result')
      .map((e) => e.payload.error ?? e.payload.outcome);
    assert.deepEqual(results.slice(-5), [
      'upstream.unavailable',
      'upstream.unavailable',
      'upstream.unavailable',
      'mcp.server_error -32050',
      'ok',
    ]);
  });
});
