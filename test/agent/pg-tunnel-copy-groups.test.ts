import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import type { Agent } from '../../src/agent/agent.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, pgResource, startAgentWorld, waitFor } from './agent-harness.js';

const RESOURCES = `
  - name: orders-eu
    protocol: postgres
    via: agent
    agentGroup: eu
    target: { host: agent, database: orders, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
  - name: orders-any
    protocol: postgres
    via: agent
    target: { host: agent, database: orders, user: agent }
    policy:
      - groups: [readers]
        allow: [read]
      - groups: [writers]
        allow: [read, write]
`;

const AGENT_POLICY = `
    - subjects: [agent-*]
      resources: [orders-eu, orders-any]
`;

const run = promisify(execFile);

/** Rows big enough that COPY crosses many HTTP/2 flow-control windows in each direction. */
const COPY_ROWS = 40_000;

describe('PostgreSQL through the tunnel: COPY both ways, and agentGroup routing', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let direct: pg.Client;
  let eu: Agent;
  let reader: string;
  let writer: string;

  before(async () => {
    backend = await startPostgres();
    direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    await direct.query('create table lines (id int primary key, body text not null)');
    world = await startAgentWorld(backend, RESOURCES, AGENT_POLICY);
    reader = await world.mint('ci-reader', ['readers']);
    writer = await world.mint('ci-writer', ['writers']);
    const both = [pgResource('orders-eu', backend), pgResource('orders-any', backend)];
    eu = await world.startAgent('agent-eu', { token: await world.mint('agent-eu', []), group: 'eu', resources: both });
    await world.startAgent('agent-us', { token: await world.mint('agent-us', []), group: 'us', resources: both });
  });

  after(async () => {
    await world?.stop();
    await direct?.end();
    await backend?.stop();
  });

  const gatewaySql = (token: string, database: string) => {
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    return postgres({ ...address, user: 'caller', password: token, database, max: 1, onnotice: () => undefined });
  };

  const line = (i: number) => `${i}\tline ${i} ${'x'.repeat(40)}\n`;

  test('COPY FROM STDIN through the tunnel: every row lands on the backend', async () => {
    const sql = gatewaySql(writer, 'orders-any');
    try {
      const writable = await sql`copy lines (id, body) from stdin`.writable();
      await pipeline(
        Readable.from(
          (function* () {
            for (let i = 1; i <= COPY_ROWS; i++) yield line(i);
          })(),
        ),
        writable,
      );
    } finally {
      await sql.end();
    }
    const { rows } = await direct.query('select count(*)::int as n, sum(id)::bigint as s from lines');
    assert.equal(rows[0].n, COPY_ROWS);
    assert.equal(Number(rows[0].s), (COPY_ROWS * (COPY_ROWS + 1)) / 2);
  });

  test('COPY TO STDOUT through the tunnel: the caller gets every byte the backend sends (psql)', async () => {
    const expected = createHash('sha256');
    for (let i = 1; i <= COPY_ROWS; i++) expected.update(line(i));
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    // psql, not postgres.js: its copy readable() can stall when a large COPY arrives in few reads (seen directly
    // against PostgreSQL too). The second statement shows the session is still usable after the COPY.
    const { stdout } = await run(
      'psql',
      [
        '-X',
        '-q',
        '-h',
        address.host,
        '-p',
        String(address.port),
        '-U',
        'caller',
        '-d',
        'orders-any',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        'copy (select id, body from lines order by id) to stdout',
        '-c',
        "select 'still usable'",
      ],
      {
        env: { ...process.env, PGPASSWORD: reader, PGSSLMODE: 'disable' },
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const tail = Buffer.from('still usable\n');
    assert.ok(stdout.length > 2_000_000, `${stdout.length} bytes copied out`);
    const copied = stdout.subarray(0, stdout.lastIndexOf(Buffer.from(`${COPY_ROWS}\t`)) + line(COPY_ROWS).length);
    assert.equal(createHash('sha256').update(copied).digest('hex'), expected.digest('hex'));
    assert.ok(stdout.subarray(copied.length).includes(tail), 'the session answered after the COPY');
  });

  test('a read-only caller cannot COPY into a table through the tunnel', async () => {
    const sql = gatewaySql(reader, 'orders-any');
    try {
      await assert.rejects(async () => {
        const writable = await sql`copy lines (id, body) from stdin`.writable();
        await pipeline(Readable.from([line(COPY_ROWS + 1)]), writable);
      });
    } finally {
      await sql.end();
    }
    assert.equal((await direct.query('select count(*)::int as n from lines')).rows[0].n, COPY_ROWS);
  });

  /** Agent names (without the connection number) of the sessions that ended after event `since`. */
  async function servedSince(since: number): Promise<string[]> {
    await world.gateway.services.recorder.flush();
    const names: string[] = [];
    for (let page = await world.gateway.services.store.readEvents(since, 1000); page.length > 0; ) {
      for (const event of page)
        if (event.type === 'session.end' && typeof event.payload.servedBy === 'string')
          names.push(event.payload.servedBy.split('#')[0] as string);
      page = await world.gateway.services.store.readEvents(page.at(-1)?.id ?? since, 1000);
    }
    return names;
  }

  async function lastEventId(): Promise<number> {
    await world.gateway.services.recorder.flush();
    let last = 0;
    for (let page = await world.gateway.services.store.readEvents(0, 1000); page.length > 0; ) {
      last = page.at(-1)?.id ?? last;
      page = await world.gateway.services.store.readEvents(last, 1000);
    }
    return last;
  }

  async function sessions(database: string, count: number): Promise<string[]> {
    const since = await lastEventId();
    for (let i = 0; i < count; i++) {
      const client = world.client(reader, database);
      await client.connect();
      assert.equal((await client.query('select $1::int as i', [i])).rows[0].i, i);
      await client.end();
    }
    await waitFor(async () => (await servedSince(since)).length === count);
    return servedSince(since);
  }

  test('a resource bound to agent group eu only goes to the eu agent; an unbound one uses both', async () => {
    assert.deepEqual(new Set(await sessions('orders-eu', 6)), new Set(['agent-eu']));
    assert.deepEqual(new Set(await sessions('orders-any', 6)), new Set(['agent-eu', 'agent-us']));
  });

  test('with the eu agent gone, the bound resource is refused at once although agent-us offers it', async () => {
    await eu.stop();
    await waitFor(() => world.gateway.services.agents?.size === 1);
    const client = world.client(reader, 'orders-eu');
    await assert.rejects(client.connect(), (error: Error & { code?: string }) => error.code === '57P03');
    assert.deepEqual(await sessions('orders-any', 2), ['agent-us', 'agent-us']);
  });
});
