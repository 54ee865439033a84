import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import pg from 'pg';
import type { TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, startAgentWorld } from './agent-harness.js';

const run = promisify(execFile);
const SIDE = fileURLToPath(new URL('./netns-side.ts', import.meta.url));
const UPSTREAM_KEY = 'sk-netns-upstream-0123456789abcdef';

const RESOURCES = `
  - name: orders
    protocol: postgres
    via: agent
    target: { host: agent, database: orders, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
  - name: llm
    protocol: http
    pathPrefix: /llm
    via: agent
    target: http://agent.invalid
    policy:
      - groups: [readers]
        allow: [read, write]
`;

/** Whether this machine lets the test create network namespaces (root and iproute2); otherwise loopback ports. */
function tryNamespace(name: string): boolean {
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/**
 * The topology the agent exists for: the backend (a real PostgreSQL and an HTTP upstream) and the agent inside a
 * network namespace this test creates, reachable from nowhere outside; the gateway and the clients outside. The only
 * path is the agent's outbound connection (carried out of the namespace through a Unix socket).
 */
describe('backend and agent inside a network namespace; gateway and clients outside', () => {
  const namespace = `gh-agent-${randomBytes(3).toString('hex')}`;
  let isolated = false;
  let world: AgentWorld;
  let relay: Server;
  let side: ChildProcess;
  let inside: { pgPort: number; pgPassword: string; upstream: string };
  let reader: string;

  before(async () => {
    isolated = tryNamespace(namespace);
    // The gateway config needs no backend: the agent holds it.
    const placeholder: TestPostgres = {
      host: 'agent',
      port: 1,
      user: 'agent',
      password: '',
      database: 'orders',
      url: '',
      stop: async () => undefined,
    };
    world = await startAgentWorld(
      placeholder,
      RESOURCES,
      '    - subjects: [agent-netns]\n      resources: [orders, llm]',
    );
    reader = await world.mint('ci-job', ['readers']);
    const gatewaySocket = join(world.dir, 'gateway-agents.sock');
    relay = createServer((client) => {
      const gateway = connect({ host: '127.0.0.1', port: world.agentsPort });
      client.pipe(gateway).pipe(client);
      client.on('error', () => gateway.destroy());
      gateway.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(gatewaySocket, resolve));
    const tokenFile = world.tokenFile('agent-netns', await world.mint('agent-netns', []));
    const args = [
      '--import',
      'tsx',
      SIDE,
      JSON.stringify({ gatewaySocket, pin: world.pin, tokenFile, upstreamKey: UPSTREAM_KEY, dir: world.dir }),
    ];
    side = isolated
      ? spawn('ip', ['netns', 'exec', namespace, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const firstLine = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: side.stdout as NodeJS.ReadableStream });
      lines.once('line', resolve);
      side.once('exit', (code) => reject(new Error(`the namespace side exited (${code})`)));
    });
    inside = JSON.parse(firstLine);
  });

  after(async () => {
    if (side?.exitCode === null) {
      side.kill('SIGTERM');
      await new Promise((resolve) => side.once('exit', resolve));
    }
    relay?.close();
    await world?.stop();
    if (isolated) execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  });

  test('a direct connection from outside to the backend and the upstream fails', async (t) => {
    if (!isolated) {
      t.diagnostic('network namespaces cannot be created here (needs root and iproute2): loopback ports instead');
      t.skip('no network namespace: the backend is reachable on loopback');
      return;
    }
    assert.ok(await refused(inside.pgPort), 'PostgreSQL is not reachable from outside the namespace');
    assert.ok(await refused(Number(new URL(inside.upstream).port)), 'the upstream is not reachable from outside');
  });

  test('psql and node-postgres work through the gateway', async () => {
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    const { stdout } = await run(
      'psql',
      [
        '-X',
        '-At',
        '-h',
        address.host,
        '-p',
        String(address.port),
        '-U',
        'ci',
        '-d',
        'orders',
        '-c',
        'select inet_server_addr()',
      ],
      { env: { ...process.env, PGPASSWORD: reader, PGSSLMODE: 'disable' } },
    );
    assert.equal(stdout.trim(), '127.0.0.1');
    const client = new pg.Client({ ...address, user: 'ci', password: reader, database: 'orders' });
    await client.connect();
    assert.equal((await client.query('select 6 * 7 as answer')).rows[0].answer, 42);
    await client.end();
  });

  test('pgbench -S runs through the gateway', async () => {
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    const { stdout } = await run(
      'pgbench',
      ['-h', address.host, '-p', String(address.port), '-U', 'ci', '-n', '-S', '-c', '2', '-t', '20', 'orders'],
      { env: { ...process.env, PGPASSWORD: reader, PGSSLMODE: 'disable' } },
    );
    assert.match(stdout, /number of transactions actually processed: 40\/40/);
  });

  test('the OpenAI SDK works through the gateway; the upstream key never leaves the namespace side', async () => {
    const sdk = new OpenAI({
      baseURL: `http://127.0.0.1:${world.gateway.addresses.http?.port}/llm/v1`,
      apiKey: reader,
      maxRetries: 0,
    });
    const completion = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello from outside' }],
    });
    assert.equal(completion.choices[0]?.message.content, 'You said: hello from outside');
  });

  test('the credentials appear in none of the gateway config, logs or audit store', async () => {
    await world.gateway.services.recorder.flush();
    for (const needle of [inside.pgPassword, UPSTREAM_KEY]) {
      assert.ok(!readFileSync(world.gatewayFile, 'utf8').includes(needle));
      assert.ok(!world.gatewayLog.lines.some((line) => line.includes(needle)));
      for (const file of readdirSync(world.dir).filter(
        (name) => name.startsWith('audit.db') && statSync(join(world.dir, name)).isFile(),
      ))
        assert.ok(!readFileSync(join(world.dir, file)).includes(needle), file);
    }
  });
});
