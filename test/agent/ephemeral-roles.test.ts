import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, pgResource, startAgentWorld, waitFor } from './agent-harness.js';

const RESOURCES = `
  - name: orders
    protocol: postgres
    via: agent
    target: { host: agent, database: orders, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
      - groups: [writers]
        allow: [read, write]
  - name: rotating
    protocol: postgres
    via: agent
    target: { host: agent, database: rotating, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
`;

const AGENT_POLICY = `
    - subjects: [agent-*]
      resources: [orders, rotating]
`;

const EPHEMERAL = { readWrite: 'app_rw', readOnly: 'app_ro', prefix: 'gh_eph_', validFor: '10m' };

describe('ephemeral session roles and password rotation (agent side)', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let direct: pg.Client;
  let reader: string;
  let writer: string;

  const roles = async (prefix = 'gh_eph_') =>
    (
      await direct.query<{ rolname: string; rolvaliduntil: Date | null }>(
        'select rolname, rolvaliduntil from pg_roles where starts_with(rolname, $1) order by 1',
        [prefix],
      )
    ).rows;

  before(async () => {
    backend = await startPostgres();
    direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    await direct.query(`
      create table items (id int primary key, name text);
      insert into items values (1, 'one');
      create role app_ro nologin; grant select on items to app_ro;
      create role app_rw nologin; grant select, insert, update, delete on items to app_rw;
      create role gh_eph_left_by_a_crash login password 'whatever';
    `);
    world = await startAgentWorld(backend, RESOURCES, AGENT_POLICY);
    reader = await world.mint('ci-reader', ['readers']);
    writer = await world.mint('ci-writer', ['writers']);
    const token = await world.mint('agent-eph', []);
    await world.startAgent('agent-eph', {
      token,
      resources: [pgResource('orders', backend, { ephemeralRoles: EPHEMERAL })],
    });
  });

  after(async () => {
    await world?.stop();
    await direct?.end();
    await backend?.stop();
  });

  test('leftover roles with the prefix (a crash) are swept when the agent starts', async () => {
    assert.deepEqual(await roles(), []);
  });

  test('each session runs as its own role with a VALID UNTIL; the role is gone after the session', async () => {
    const client = world.client(reader, 'orders');
    await client.connect();
    const { rows } = await client.query('select current_user as who, session_user as login');
    const who = rows[0].who as string;
    assert.match(who, /^gh_eph_[0-9a-f]{16}$/);
    assert.equal(rows[0].login, who);
    assert.equal((await client.query('select name from items where id = 1')).rows[0].name, 'one');
    const live = await roles();
    assert.deepEqual(
      live.map((r) => r.rolname),
      [who],
    );
    const until = live[0]?.rolvaliduntil?.getTime() ?? 0;
    assert.ok(until > Date.now() && until < Date.now() + 11 * 60_000, 'VALID UNTIL about validFor from now');
    // A second session gets a different role.
    const other = world.client(reader, 'orders');
    await other.connect();
    assert.notEqual((await other.query('select current_user as who')).rows[0].who, who);
    await other.end();
    await client.end();
    await waitFor(async () => (await roles()).length === 0);
  });

  test('a read-only caller gets the read-only role, a writer the read-write one', async () => {
    const r = world.client(reader, 'orders');
    await r.connect();
    const memberOf = async (client: pg.Client) =>
      (
        await client.query(
          "select string_agg(b.rolname, ',' order by b.rolname) as roles from pg_auth_members m join pg_roles b on b.oid = m.roleid join pg_roles u on u.oid = m.member where u.rolname = current_user",
        )
      ).rows[0].roles;
    assert.equal(await memberOf(r), 'app_ro');
    await r.end();
    const w = world.client(writer, 'orders');
    await w.connect();
    assert.equal(await memberOf(w), 'app_rw');
    await w.query("insert into items values (2, 'two')");
    await w.end();
    assert.equal((await direct.query('select count(*)::int as n from items')).rows[0].n, 2);
  });

  test('rotation changes the agent login password and writes it back; open sessions survive, new ones log in', async () => {
    const initial = 'first-password-x';
    await direct.query(`create role agent_login login createrole password '${initial}'`);
    await direct.query('grant select on items to agent_login');
    const passwordFile = join(world.dir, 'agent_login.password');
    writeFileSync(passwordFile, `${initial}\n`, { mode: 0o600 });
    const token = await world.mint('agent-rotating', []);
    const agent = await world.startAgent('agent-rotating', {
      token,
      resources: [
        {
          name: 'rotating',
          protocol: 'postgres',
          target: {
            host: backend.host,
            port: backend.port,
            database: backend.database,
            user: 'agent_login',
            passwordFile,
          },
          rotation: { every: '700ms' },
        },
      ],
    });
    const open = world.client(reader, 'rotating');
    await open.connect();
    assert.equal((await open.query('select current_user as who')).rows[0].who, 'agent_login');
    await waitFor(() => readFileSync(passwordFile, 'utf8').trim() !== initial, 5_000);
    const rotated = readFileSync(passwordFile, 'utf8').trim();
    assert.equal((await open.query('select 1 as still')).rows[0].still, 1, 'the open session survived rotation');
    const old = new pg.Client({ ...connection(backend), user: 'agent_login', password: initial });
    await assert.rejects(old.connect(), { code: '28P01' });
    const fresh = new pg.Client({ ...connection(backend), user: 'agent_login', password: rotated });
    await fresh.connect().catch(async (error) => {
      // Rotation runs every 700ms: the file may have moved on between the read and the login.
      if (readFileSync(passwordFile, 'utf8').trim() === rotated) throw error;
    });
    await fresh.end().catch(() => undefined);
    const later = world.client(reader, 'rotating');
    await later.connect();
    assert.equal((await later.query('select current_user as who')).rows[0].who, 'agent_login');
    await later.end();
    await open.end();
    await agent.stop();
  });
});

function connection(backend: TestPostgres) {
  return { host: backend.host, port: backend.port, database: backend.database };
}
