import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import type { Agent } from '../../src/agent/agent.js';
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
        allow: [read, write, ddl]
  - name: secrets
    protocol: postgres
    via: agent
    target: { host: agent, database: secrets, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
`;

const AGENT_POLICY = `
    - subjects: [agent-orders-*]
      resources: [orders]
`;

describe('PostgreSQL through the agent tunnel', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let a: Agent;
  let b: Agent;
  let reader: string;

  before(async () => {
    backend = await startPostgres();
    world = await startAgentWorld(backend, RESOURCES, AGENT_POLICY);
    reader = await world.mint('ci-job', ['readers']);
    const token = await world.mint('agent-orders-1', []);
    a = await world.startAgent('agent-a', { token, resources: [pgResource('orders', backend)] });
    b = await world.startAgent('agent-b', { token, resources: [pgResource('orders', backend)] });
  });

  after(async () => {
    await world?.stop();
    await backend?.stop();
  });

  async function servedBy(): Promise<string[]> {
    await world.gateway.services.recorder.flush();
    const ends: string[] = [];
    for (let page = await world.gateway.services.store.readEvents(0, 1000), last = 0; page.length > 0; ) {
      for (const event of page)
        if (event.type === 'session.end' && typeof event.payload.servedBy === 'string')
          ends.push(event.payload.servedBy);
      last = page.at(-1)?.id ?? last;
      page = await world.gateway.services.store.readEvents(last, 1000);
    }
    return ends;
  }

  test('queries run through an agent; sessions spread over both agents and name the agent in audit', async () => {
    for (let i = 0; i < 4; i++) {
      const client = world.client(reader, 'orders');
      await client.connect();
      const { rows } = await client.query('SELECT current_user AS who, 1 + $1::int AS n', [i]);
      assert.equal(rows[0].who, backend.user);
      assert.equal(rows[0].n, i + 1);
      await client.end();
    }
    await waitFor(async () => (await servedBy()).length >= 4);
    const agents = new Set((await servedBy()).map((id) => id.split('#')[0]));
    assert.deepEqual([...agents].sort(), ['agent-a', 'agent-b']);
  });

  test('a read-only caller gets a read-only backend session through the tunnel', async () => {
    const client = world.client(reader, 'orders');
    await client.connect();
    const { rows } = await client.query('SHOW default_transaction_read_only');
    assert.equal(rows[0].default_transaction_read_only, 'on');
    await client.end();
  });

  test('cancel travels as a control message and stops the running statement (57014)', async () => {
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    const sql = postgres({
      host: address.host,
      port: address.port,
      user: 'caller',
      password: reader,
      database: 'orders',
      max: 1,
      onnotice: () => undefined,
    });
    const direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    try {
      const running = sql`select pg_sleep(30) as cancelled`;
      const outcome = running.then(
        () => 'finished',
        (error: { code?: string }) => error.code,
      );
      const sleeping = async () =>
        Number(
          (
            await direct.query(
              "select count(*) as n from pg_stat_activity where query like '%pg_sleep(30) as cancelled%' and pid <> pg_backend_pid()",
            )
          ).rows[0].n,
        );
      await waitFor(async () => (await sleeping()) === 1);
      running.cancel();
      assert.equal(await outcome, '57014');
      assert.equal((await sql`select 1 as one`)[0]?.one, 1);
    } finally {
      await sql.end();
      await direct.end();
    }
  });

  test('/readyz lists the connected agents with their resources and last-seen time', async () => {
    const admin = world.gateway.addresses.admin as { port: number };
    const body = (await (await fetch(`http://127.0.0.1:${admin.port}/readyz`)).json()) as {
      agents: { name: string; resources: string[]; lastSeen: string }[];
    };
    assert.deepEqual(body.agents.map((agent) => agent.name).sort(), ['agent-a', 'agent-b']);
    for (const agent of body.agents) {
      assert.deepEqual(agent.resources, ['orders']);
      assert.ok(Date.parse(agent.lastSeen) > Date.now() - 60_000);
    }
  });

  test('an agent killed mid-session: that session ends with a clean error, later sessions use the other agent', async () => {
    const clients = [world.client(reader, 'orders'), world.client(reader, 'orders')];
    for (const client of clients) {
      client.on('error', () => undefined);
      await client.connect();
      await client.query('SELECT 1');
    }
    await a.stop();
    const outcomes = await Promise.allSettled(clients.map((client) => client.query('SELECT 2 AS two')));
    assert.ok(
      outcomes.some((outcome) => outcome.status === 'rejected'),
      'a session that went through the killed agent fails',
    );
    for (const outcome of outcomes)
      if (outcome.status === 'rejected') assert.match(String(outcome.reason), /terminat|connection|closed|ended/i);
    await waitFor(() => world.gateway.services.agents?.size === 1);
    for (let i = 0; i < 3; i++) {
      const client = world.client(reader, 'orders');
      await client.connect();
      assert.equal((await client.query('SELECT 3 AS three')).rows[0].three, 3);
      await client.end();
    }
    for (const client of clients) await client.end().catch(() => undefined);
  });

  test('the credential is only in the agent: not in the gateway config, logs or audit store', async () => {
    const needle = backend.password;
    assert.ok(!readFileSync(world.gatewayFile, 'utf8').includes(needle));
    assert.ok(!world.gatewayLog.lines.some((line) => line.includes(needle)), 'gateway logs');
    await world.gateway.services.recorder.flush();
    for (const file of readdirSync(world.dir).filter(
      (name) => name.startsWith('audit.db') && statSync(join(world.dir, name)).isFile(),
    ))
      assert.ok(!readFileSync(join(world.dir, file)).includes(needle), `audit store file ${file}`);
  });

  test('gateway restart: the agent reconnects by itself and serves again', async () => {
    await world.gateway.stop();
    const back = b.identified();
    await world.startGateway();
    await back;
    const client = world.client(reader, 'orders');
    await client.connect();
    assert.equal((await client.query('SELECT 4 AS four')).rows[0].four, 4);
    await client.end();
  });

  test('no agent connected: a clear error at once (SQLSTATE 57P03)', async () => {
    await b.stop();
    await waitFor(() => world.gateway.services.agents?.size === 0);
    const client = world.client(reader, 'orders');
    const started = Date.now();
    await assert.rejects(client.connect(), (error: Error & { code?: string }) => error.code === '57P03');
    assert.ok(Date.now() - started < 2_000);
  });
});
