import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { assertBatchesContiguous, assertChain, readAll, sessionEvents, storeContract } from './store-contract.js';

let server: TestPostgres;
const databases: string[] = [];
before(async () => {
  server = await startPostgres();
});
after(async () => {
  // With GATEHOUSE_TEST_PG_URL the server outlives the test, so drop what the tests created in it.
  if (server) await admin((client) => dropAll(client));
  await server?.stop();
});

async function admin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function dropAll(client: pg.Client): Promise<void> {
  for (const name of databases.splice(0)) await client.query(`drop database if exists ${name} with (force)`);
}

/** A fresh database on the shared test server, so each test starts empty. */
async function freshDatabaseUrl(): Promise<string> {
  const name = `store_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  databases.push(name);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

storeContract('PostgreSQL', async () => PostgresStore.open(await freshDatabaseUrl()));

describe('PostgresStore', () => {
  it('two replicas on one database, migrating and appending concurrently, extend one chain', async () => {
    const url = await freshDatabaseUrl();
    const replicas = [await PostgresStore.open(url), await PostgresStore.open(url)];
    try {
      await Promise.all(replicas.map((r) => r.migrate()));
      const batches = Array.from({ length: 60 }, (_, i) => sessionEvents(`r-${i}`, i * 10));
      const results = await Promise.all(batches.map((b, i) => replicas[i % 2]!.appendEvents(b)));
      const all = await readAll(replicas[0]!);
      assert.equal(all.length, 240);
      assert.deepEqual(
        all.map((e) => e.id),
        all.map((_, i) => i + 1),
      );
      assertChain(all);
      assertBatchesContiguous(all, results);
      assert.deepEqual(await readAll(replicas[1]!), all);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('returns numbers, not strings, for bigint columns and counts', async () => {
    const store = await PostgresStore.open(await freshDatabaseUrl());
    try {
      await store.migrate();
      await store.appendEvents(sessionEvents('types', 1_700_000_000_000));
      const [event] = await store.readEvents(0, 1);
      assert.equal(typeof event?.id, 'number');
      assert.equal(event?.at, 1_700_000_000_000);
      const [summary] = await store.listSessions({ limit: 1 });
      assert.equal(summary?.startedAt, 1_700_000_000_000);
      assert.equal(summary?.endedAt, 1_700_000_000_003);
      assert.equal(summary?.operations, 1);
    } finally {
      await store.close();
    }
  });

  it('rejects appends when the server cannot be reached', async () => {
    const url = new URL(await freshDatabaseUrl());
    url.port = '1';
    const store = await PostgresStore.open(url.toString());
    await assert.rejects(store.appendEvents(sessionEvents('nowhere', 1)));
    await store.close();
  });
});
