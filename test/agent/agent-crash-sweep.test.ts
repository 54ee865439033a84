import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { CLI } from '../cli/cli-run.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { postgresTargetYaml } from '../support/gateway-config.js';
import { type AgentWorld, pgResource, startAgentWorld, waitFor } from './agent-harness.js';

const RESOURCES = `
  - name: orders
    protocol: postgres
    via: agent
    target: { host: agent, database: orders, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
`;

const AGENT_POLICY = `
    - subjects: [agent-crash, agent-sibling]
      resources: [orders]
`;

const EPHEMERAL = { readWrite: 'crash_ro', readOnly: 'crash_ro', prefix: 'gh_crash_', validFor: '10m' };

/**
 * An agent process killed with SIGKILL cannot drop its session roles: they stay in the backend until the next start
 * of an agent sweeps them. A sibling agent serving the same backend with the same prefix must not sweep roles that
 * live sessions still use.
 */
describe('ephemeral roles left by a SIGKILLed agent are swept at its next start', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let direct: pg.Client;
  let reader: string;
  let agentFile: string;
  let child: ChildProcess | undefined;

  const liveRoles = async () =>
    (
      await direct.query<{ rolname: string }>(
        "select rolname from pg_roles where starts_with(rolname, 'gh_crash_') order by 1",
      )
    ).rows.map((r) => r.rolname);

  const agentsConnected = () => world.gateway.services.agents?.size ?? 0;

  /** `gatehouse agent -c agent.yaml` as its own process, as a user runs it. */
  const startAgentProcess = () => {
    child = spawn(process.execPath, [CLI, 'agent', '-c', agentFile], {
      env: { ...process.env, AGENT_PG_PASSWORD: backend.password },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  };

  before(async () => {
    backend = await startPostgres();
    direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    await direct.query(`
      create table items (id int primary key);
      insert into items values (1);
      create role crash_ro nologin; grant select on items to crash_ro;
    `);
    world = await startAgentWorld(backend, RESOURCES, AGENT_POLICY);
    reader = await world.mint('crash-reader', ['readers']);
    const tokenFile = world.tokenFile('agent-crash', await world.mint('agent-crash', []));
    agentFile = join(world.dir, 'agent-crash.yaml');
    writeFileSync(
      agentFile,
      `
name: agent-crash
gateway:
  address: 127.0.0.1:${world.agentsPort}
  pin: "${world.pin}"
token:
  file: ${tokenFile}
reconnect: { min: 50ms, max: 500ms }
resources:
  - name: orders
    protocol: postgres
${postgresTargetYaml(backend, 'AGENT_PG_PASSWORD')}    ephemeralRoles: { readWrite: ${EPHEMERAL.readWrite}, readOnly: ${EPHEMERAL.readOnly}, prefix: ${EPHEMERAL.prefix}, validFor: ${EPHEMERAL.validFor} }
`,
    );
    startAgentProcess();
    await waitFor(() => agentsConnected() === 1, 20_000);
  });

  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await world?.stop();
    await direct?.end();
    await backend?.stop();
  });

  test('live roles survive a sibling agent start; SIGKILL leaves them behind; the next start sweeps them', async () => {
    const sessions: pg.Client[] = [];
    for (let i = 0; i < 2; i++) {
      const client = world.client(reader, 'orders');
      client.on('error', () => undefined);
      await client.connect();
      sessions.push(client);
    }
    const who = await Promise.all(
      sessions.map(async (c) => (await c.query('select current_user as who')).rows[0].who as string),
    );
    assert.deepEqual(await liveRoles(), [...who].sort(), 'each session runs as its own role');

    // A sibling serving the same backend with the same prefix starts (and sweeps): the live sessions keep their roles.
    const sibling = await world.startAgent('agent-sibling', {
      token: await world.mint('agent-sibling', []),
      resources: [pgResource('orders', backend, { ephemeralRoles: EPHEMERAL })],
    });
    assert.equal(agentsConnected(), 2);
    assert.deepEqual(await liveRoles(), [...who].sort(), "the sibling's start sweep left live roles alone");
    for (const c of sessions) assert.equal((await c.query('select count(*)::int as n from items')).rows[0].n, 1);
    await sibling.stop();
    await waitFor(() => agentsConnected() === 1);

    const killed = child as ChildProcess;
    killed.kill('SIGKILL');
    await once(killed, 'exit');
    // The sessions end with an error, and the killed agent could not drop their roles.
    for (const c of sessions) await assert.rejects(c.query('select 1'));
    await waitFor(() => agentsConnected() === 0);
    assert.deepEqual(await liveRoles(), [...who].sort(), 'the killed agent left its session roles behind');

    startAgentProcess();
    await waitFor(() => agentsConnected() === 1, 20_000);
    assert.deepEqual(await liveRoles(), [], 'the next start swept the leftovers');
    // And it serves new sessions with fresh roles, dropped when they end.
    const fresh = world.client(reader, 'orders');
    await fresh.connect();
    const role = (await fresh.query('select current_user as who')).rows[0].who as string;
    assert.match(role, /^gh_crash_[0-9a-f]{16}$/);
    assert.ok(!who.includes(role));
    await fresh.end();
    await waitFor(async () => (await liveRoles()).length === 0);
    for (const c of sessions) await c.end().catch(() => undefined);
  });
});
