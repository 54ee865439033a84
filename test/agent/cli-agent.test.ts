import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
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
});
