import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Agent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { type AgentWorld, NO_BACKEND, startAgentWorld, waitFor } from './agent-harness.js';

const SERVER_KEY = 'Bearer mcp-key-only-the-agent-knows-5b1e';

/**
 * A real Streamable HTTP MCP server (the SDK's) that answers only requests carrying its key; one SDK server per MCP
 * session, so a client that lost its session can start another.
 */
class KeyedMcpServer {
  readonly calls: string[] = [];
  readonly headers: IncomingHttpHeaders[] = [];
  readonly servers: McpServer[] = [];
  private readonly sessions = new Map<string, StreamableHTTPServerTransport>();
  private readonly server: Server;
  private readonly lateTools: string[] = [];

  constructor() {
    this.server = createServer(async (req, res) => {
      this.headers.push(req.headers);
      if (req.headers.authorization !== SERVER_KEY) return void res.writeHead(401).end();
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? this.sessions.get(id) : undefined;
      if (transport === undefined) {
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (sid) => {
            this.sessions.set(sid, created);
          },
        });
        await this.serverFor().connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
    });
  }

  /** Adds a tool to every session's server (each tells its client that the list changed). */
  addTool(name: string): void {
    this.lateTools.push(name);
    for (const mcp of this.servers)
      mcp.registerTool(name, { description: 'Added later.' }, async () => ({ content: [] }));
  }

  private serverFor(): McpServer {
    const mcp = new McpServer({ name: 'keyed', version: '1.0.0' });
    mcp.registerTool('echo', { description: 'Echoes.', inputSchema: { message: z.string() } }, async (args) => {
      this.calls.push('echo');
      return { content: [{ type: 'text', text: args.message }] };
    });
    mcp.registerTool('drop_everything', { description: 'Destroys.', inputSchema: {} }, async () => {
      this.calls.push('drop_everything');
      return { content: [{ type: 'text', text: 'gone' }] };
    });
    for (const name of this.lateTools)
      mcp.registerTool(name, { description: 'Added later.' }, async () => ({ content: [] }));
    this.servers.push(mcp);
    return mcp;
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((mcp) => mcp.close()));
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const RESOURCES = `
  - name: tools
    protocol: mcp
    via: agent
    upstream: { transport: http, url: http://agent.invalid/mcp }
    masking: {}
    policy:
      - groups: [tool-users]
        targets: [echo]
        allow: [write]
`;

describe('MCP through the agent tunnel (the SDK client, a real Streamable HTTP server only the agent can reach)', () => {
  let world: AgentWorld;
  let server: KeyedMcpServer;
  let agent: Agent;
  let target: string;
  const clients: Client[] = [];

  const connect = async (subject: string, groups: readonly string[]) => {
    const token = await world.mint(subject, groups);
    const client = new Client({ name: 'test-agent', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${world.gateway.addresses.mcp?.port}/mcp/tools`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    clients.push(client);
    return client;
  };

  before(async () => {
    server = new KeyedMcpServer();
    target = await server.start();
    world = await startAgentWorld(NO_BACKEND, RESOURCES, '    - subjects: [agent-mcp]\n      resources: [tools]\n');
    agent = await world.startAgent('agent-mcp', {
      token: await world.mint('agent-mcp', []),
      resources: [{ name: 'tools', protocol: 'mcp', target, credential: { value: SERVER_KEY } }],
    });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await world?.stop();
    await server?.stop();
  });

  test('lists and calls through the agent, which injects the key; masked; the record names the agent', async () => {
    const caller = await connect('rag-worker', ['tool-users']);
    assert.deepEqual(
      (await caller.listTools()).tools.map((t) => t.name),
      ['echo'],
    );
    const result = await caller.callTool({ name: 'echo', arguments: { message: 'write to ann@example.org' } });
    assert.match(JSON.stringify(result), /write to /);
    assert.doesNotMatch(JSON.stringify(result), /ann@example\.org/);
    assert.deepEqual(server.calls, ['echo']);
    assert.ok(server.headers.length > 0);
    for (const headers of server.headers) assert.equal(headers.authorization, SERVER_KEY);
    await world.gateway.services.recorder.flush();
    const events = await world.gateway.services.store.readEvents(0, 10_000);
    const served = events
      .map((e) => (e.type === 'operation' ? e.payload.result : e.payload) as Record<string, unknown> | undefined)
      .filter((r) => r?.outcome === 'ok' && typeof r.servedBy === 'string');
    assert.ok(served.length > 0, 'the call result names the agent that carried it');
    assert.match(String(served.at(-1)?.servedBy), /^agent-mcp#\d+$/);
  });

  test('a denied tool never reaches the server; the key is in the agent config only', async () => {
    const caller = await connect('rag-worker-2', ['tool-users']);
    const error = await caller.callTool({ name: 'drop_everything', arguments: {} }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32003);
    assert.ok(!server.calls.includes('drop_everything'));
    assert.ok(!readFileSync(world.gatewayFile, 'utf8').includes(SERVER_KEY));
    assert.ok(!world.gatewayLog.lines.some((line) => line.includes(SERVER_KEY)));
  });

  test("the server's list changes reach the caller over the GET stream through the tunnel", async () => {
    const caller = await connect('rag-worker-3', ['tool-users']);
    const changed = new Promise<void>((resolve) =>
      caller.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve()),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.addTool('late');
    await changed;
    assert.ok(
      (await caller.listTools()).tools.every((t) => t.name === 'echo'),
      'late is not granted: not shown',
    );
  });

  test('no agent connected: the call fails with an upstream error, and works again once one is back', async () => {
    const caller = await connect('rag-worker-4', ['tool-users']);
    await agent.stop();
    await waitFor(() => world.gateway.services.agents?.size === 0);
    const before = server.calls.length;
    const error = await caller.callTool({ name: 'echo', arguments: { message: 'lost' } }).catch((e: unknown) => e);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32001);
    assert.equal(server.calls.length, before);
    agent = await world.startAgent('agent-mcp', {
      token: await world.mint('agent-mcp', []),
      resources: [{ name: 'tools', protocol: 'mcp', target, credential: { value: SERVER_KEY } }],
    });
    const again = await caller.callTool({ name: 'echo', arguments: { message: 'back' } });
    assert.match(JSON.stringify(again), /back/);
  });

  test('config: via: agent takes Streamable HTTP servers only, and never a credential in the gateway', () => {
    const base = `
identity: { devIssuer: { enabled: true } }
agents: { listen: 127.0.0.1:7443, tls: { cert: c.pem, key: k.pem }, policy: [{ subjects: [a], resources: [t] }] }
resources:
  - name: t
    protocol: mcp
    via: agent
`;
    assert.throws(
      () => parseConfig(`${base}    upstream: { transport: stdio, command: node }\n`, '/tmp/gatehouse.yaml', {}),
      /via: agent reaches Streamable HTTP servers only/,
    );
    assert.throws(
      () =>
        parseConfig(
          `${base}    upstream: { transport: http, url: "http://a.invalid/mcp", credential: { value: x } }\n`,
          '/tmp/gatehouse.yaml',
          {},
        ),
      /the agent injects the server's credential/,
    );
  });
});
