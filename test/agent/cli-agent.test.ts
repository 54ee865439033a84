import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { CLI, runCli } from '../cli/cli-run.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, startAgentWorld, waitFor } from './agent-harness.js';

const run = promisify(execFile);

const RESOURCES = `
  - name: orders
    protocol: postgres
    via: agent
    target: { host: agent, database: orders, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
`;

/** The real commands as a user runs them: `gatehouse agent -c agent.yaml` as its own process, psql, `agents list`. */
describe('gatehouse agent and gatehouse agents list (child processes, psql)', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let child: ChildProcess | undefined;

  before(async () => {
    backend = await startPostgres();
    world = await startAgentWorld(backend, RESOURCES, '    - subjects: [agent-cli]\n      resources: [orders]');
    const tokenFile = world.tokenFile('agent-cli', await world.mint('agent-cli', []));
    const agentFile = join(world.dir, 'agent.yaml');
    writeFileSync(
      agentFile,
      `
name: agent-cli
gateway:
  address: 127.0.0.1:${world.agentsPort}
  pin: "${world.pin}"
token:
  file: ${tokenFile}
resources:
  - name: orders
    protocol: postgres
    target:
      host: ${backend.host}
      port: ${backend.port}
      database: ${backend.database}
      user: ${backend.user}
      password: \${env:AGENT_PG_PASSWORD}
`,
    );
    child = spawn(process.execPath, [CLI, 'agent', '-c', agentFile], {
      env: { ...process.env, AGENT_PG_PASSWORD: backend.password },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor(() => world.gateway.services.agents?.size === 1, 20_000);
  });

  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child?.once('exit', resolve));
    }
    await world?.stop();
    await backend?.stop();
  });

  test('psql runs a query through the gateway and the agent process', async () => {
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
        'caller',
        '-d',
        'orders',
        '-c',
        'select 40 + 2',
      ],
      { env: { ...process.env, PGPASSWORD: await world.mint('ci-job', ['readers']), PGSSLMODE: 'disable' } },
    );
    assert.equal(stdout.trim(), '42');
  });

  test('gatehouse agents list shows the agent, its resources and when it was last seen', async () => {
    const admin = `http://127.0.0.1:${world.gateway.addresses.admin?.port}`;
    const table = await runCli(['agents', 'list', '--gateway', admin]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^AGENT\s+GROUP\s+SUBJECT\s+RESOURCES\s+LAST SEEN/m);
    assert.match(table.stdout, /agent-cli#\d+\s+-\s+agent-cli\s+orders\s+\d{4}-\d\d-\d\dT/);
    const json = await runCli(['agents', 'list', '--gateway', admin, '--json']);
    const listed = JSON.parse(json.stdout) as { name: string; resources: string[] }[];
    assert.deepEqual(
      listed.map((a) => [a.name, a.resources]),
      [['agent-cli', ['orders']]],
    );
  });

  test('a stalled session does not stall another on the same tunnel (per-stream flow control)', async () => {
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    const config = {
      ...address,
      user: 'caller',
      password: await world.mint('ci-job', ['readers']),
      database: 'orders',
    };
    const slow = new pg.Client(config);
    await slow.connect();
    const socket = (slow as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
    const big = slow.query("select repeat('x', 1000) as filler from generate_series(1, 20000)");
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.pause(); // the caller stops reading ~20 MB: windows and buffers fill along the whole path
    await new Promise((resolve) => setTimeout(resolve, 700));
    const fast = new pg.Client(config);
    await fast.connect();
    const started = Date.now();
    for (let i = 0; i < 20; i++) assert.equal((await fast.query('select $1::int as i', [i])).rows[0].i, i);
    const elapsed = Date.now() - started;
    await fast.end();
    assert.ok(elapsed < 3_000, `20 queries beside a stalled session took ${elapsed} ms`);
    socket.resume();
    assert.equal((await big).rowCount, 20_000);
    await slow.end();
  });

  test('a frozen agent is detected by heartbeat and dropped within seconds; it comes back by itself', async () => {
    const pid = child?.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await waitFor(() => world.gateway.services.agents?.size === 0, 5_000);
      // heartbeat: 500ms in the gateway config; a PING unanswered for twice that drops the agent.
      assert.ok(Date.now() - stoppedAt < 3_000, `dropped after ${Date.now() - stoppedAt} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => world.gateway.services.agents?.size === 1, 15_000);
  });
});
