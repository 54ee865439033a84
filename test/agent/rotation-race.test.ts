import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, startAgentWorld, waitFor } from './agent-harness.js';

const RESOURCES = `
  - name: rotating
    protocol: postgres
    via: agent
    target: { host: agent, database: rotating, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
  - name: rotating-eph
    protocol: postgres
    via: agent
    target: { host: agent, database: rotating-eph, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
`;

const AGENT_POLICY = `
    - subjects: [agent-race]
      resources: [rotating, rotating-eph]
`;

/** How long sessions keep starting while the password rotates underneath them. */
const STORM_MS = 2_500;
const CONCURRENT = 6;

/**
 * Rotation changes the agent's backend password while sessions start: a login (the agent's own, or the admin pool's
 * that creates session roles) must never read a password that the rotation is about to replace.
 */
describe('password rotation while sessions start (agent login and ephemeral-role admin pool)', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let direct: pg.Client;
  let reader: string;
  const files: Record<string, string> = {};

  before(async () => {
    backend = await startPostgres();
    direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    await direct.query(`
      create table items (id int primary key);
      insert into items values (1);
      create role race_ro nologin; grant select on items to race_ro;
      create role race_login login createrole password 'start-login';
      grant select on items to race_login;
      create role race_admin login createrole password 'start-admin';
      grant race_ro to race_admin with admin option;
    `);
    world = await startAgentWorld(backend, RESOURCES, AGENT_POLICY);
    reader = await world.mint('race-reader', ['readers']);
    const target = (user: string) => {
      const passwordFile = join(world.dir, `${user}.password`);
      writeFileSync(passwordFile, `start-${user.slice(5)}\n`, { mode: 0o600 });
      files[user] = passwordFile;
      return { host: backend.host, port: backend.port, database: backend.database, user, passwordFile };
    };
    await world.startAgent('agent-race', {
      token: await world.mint('agent-race', []),
      resources: [
        { name: 'rotating', protocol: 'postgres', target: target('race_login'), rotation: { every: '60ms' } },
        {
          name: 'rotating-eph',
          protocol: 'postgres',
          target: target('race_admin'),
          rotation: { every: '60ms' },
          ephemeralRoles: { readWrite: 'race_ro', readOnly: 'race_ro', prefix: 'race_eph_', validFor: '5m' },
        },
      ],
    });
  });

  after(async () => {
    await world?.stop();
    await direct?.end();
    await backend?.stop();
  });

  /** Opens sessions back to back, CONCURRENT at a time, for STORM_MS; returns how many opened and the failures. */
  async function storm(database: string): Promise<{ opened: number; failures: string[] }> {
    const deadline = Date.now() + STORM_MS;
    let opened = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (Date.now() < deadline) {
        const client = world.client(reader, database);
        client.on('error', () => undefined);
        try {
          await client.connect();
          assert.equal((await client.query('select count(*)::int as n from items')).rows[0].n, 1);
          opened++;
        } catch (error) {
          failures.push(String(error));
        } finally {
          await client.end().catch(() => undefined);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT }, worker));
    return { opened, failures };
  }

  const rotations = async (user: string) => {
    const before = readFileSync(files[user] as string, 'utf8');
    return () => readFileSync(files[user] as string, 'utf8') !== before;
  };

  test('sessions logging in as the agent: none fails while the password rotates', async () => {
    const rotated = await rotations('race_login');
    const { opened, failures } = await storm('rotating');
    assert.deepEqual(failures, []);
    assert.ok(opened >= 20, `sessions opened during the storm (${opened})`);
    assert.ok(rotated(), 'the password rotated during the storm');
  });

  test('sessions with ephemeral roles: the admin pool never logs in with a stale password', async () => {
    const rotated = await rotations('race_admin');
    const { opened, failures } = await storm('rotating-eph');
    assert.deepEqual(failures, []);
    assert.ok(opened >= 20, `sessions opened during the storm (${opened})`);
    assert.ok(rotated(), 'the password rotated during the storm');
    // Every session role was dropped at the end of its session.
    const left = async () =>
      (await direct.query("select count(*)::int as n from pg_roles where starts_with(rolname, 'race_eph_')")).rows[0]
        .n as number;
    await waitFor(async () => (await left()) === 0);
  });
});
