import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { verifyStore } from '../../src/audit/chain-verifier.js';
import { CheckpointSigner, keyRing } from '../../src/audit/checkpoint.js';
import { chainLinks, serialiseEvents } from '../../src/store/hash-chain.js';
import { MIGRATION_TABLES, migrationProvider, type StoreSchema } from '../../src/store/migrations.js';
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
  it('two replicas on one database, migrating and appending concurrently, each extend their own chain', async () => {
    const url = await freshDatabaseUrl();
    const replicas = [
      await PostgresStore.open(url, { chain: 'replica-a' }),
      await PostgresStore.open(url, { chain: 'replica-b' }),
    ];
    try {
      await Promise.all(replicas.map((r) => r.migrate()));
      await Promise.all(replicas.map((r) => r.claimChain()));
      const batches = Array.from({ length: 60 }, (_, i) => sessionEvents(`r-${i}`, i * 10));
      const results = await Promise.all(batches.map((b, i) => replicas[i % 2]!.appendEvents(b)));
      const all = await readAll(replicas[0]!);
      assert.equal(all.length, 240);
      assert.equal(new Set(all.map((e) => e.id)).size, 240, 'row ids are unique across chains');
      for (const chain of ['replica-a', 'replica-b']) {
        const own = all.filter((e) => e.chain === chain);
        assert.deepEqual(
          own.map((e) => e.seq),
          own.map((_, i) => i + 1),
        );
      }
      assertChain(all);
      assertBatchesContiguous(all, results);
      assert.deepEqual(await readAll(replicas[1]!), all);
      assert.deepEqual(await replicas[1]!.listChains(), ['replica-a', 'replica-b']);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('refuses a second process claiming the same instance chain, and lets it in once the first is gone', async () => {
    const url = await freshDatabaseUrl();
    const first = await PostgresStore.open(url, { chain: 'twin' });
    const second = await PostgresStore.open(url, { chain: 'twin' });
    try {
      await first.migrate();
      await first.claimChain();
      await first.appendEvents(sessionEvents('one', 1));
      await assert.rejects(second.claimChain(), /audit chain "twin" is held by another running gateway process/);
      await first.close();
      await second.claimChain();
      const [link] = await second.appendEvents(sessionEvents('two', 2));
      assert.equal(link?.seq, 5, 'a restarted instance continues its own chain');
      assertChain(await readAll(second));
    } finally {
      await first.close();
      await second.close();
    }
  });

  for (const thread of [true, false]) {
    it(`a claimed chain recovers from a dropped connection without a restart (writer thread: ${thread})`, async () => {
      const url = await freshDatabaseUrl();
      const store = await PostgresStore.open(url, { chain: 'dropped' });
      try {
        await store.migrate();
        await store.claimChain({ thread });
        assert.equal(store.writesOnThread, thread);
        await store.appendEvents(sessionEvents('before', 1));
        await admin((client) =>
          client.query(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'gatehouse dropped'",
          ),
        );
        // The first append after the drop may fail (its connection is gone); the next reconnects, re-reads the head.
        await store.appendEvents(sessionEvents('during', 2)).catch(() => undefined);
        await store.appendEvents(sessionEvents('after', 3));
        const all = await readAll(store);
        assertChain(all);
        assert.deepEqual(
          all.map((e) => e.seq),
          all.map((_, i) => i + 1),
        );
      } finally {
        await store.close();
      }
    });
  }

  it('a writer thread that dies fails what it was writing, and the chain continues on the gateway thread', async () => {
    const url = await freshDatabaseUrl();
    const store = await PostgresStore.open(url, { chain: 'crashing' });
    try {
      await store.migrate();
      await store.claimChain({ thread: true });
      assert.equal(store.writesOnThread, true);
      await store.appendEvents(sessionEvents('before', 1));
      const thread = (store as unknown as { thread: { terminate(): Promise<void> } }).thread;
      const inFlight = store.appendEvents(sessionEvents('in-flight', 2));
      await thread.terminate();
      // Committed or not, it is not acknowledged: whoever waits on it is refused.
      const settled = await inFlight.then(
        () => 'acknowledged',
        (error: Error) => error.message,
      );
      assert.ok(settled === 'acknowledged' || /writer thread stopped/.test(settled), settled);
      assert.equal(store.writesOnThread, false);
      // The thread's connection (and the chain's lock) went with it: the store claims the chain on its own thread.
      let after: Awaited<ReturnType<PostgresStore['appendEvents']>> | undefined;
      for (let i = 0; i < 50 && after === undefined; i++) {
        after = await store.appendEvents(sessionEvents(`after-${i}`, 3)).catch(() => undefined);
        if (after === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(after, 'an append succeeded after the thread died');
      const all = await readAll(store);
      assertChain(all);
      assert.deepEqual(
        all.map((e) => e.seq),
        all.map((_, i) => i + 1),
        'one chain, no gap and no fork',
      );
    } finally {
      await store.close();
    }
  });

  it('migrates a single-chain log: its events become the default chain, which verifies and continues', async () => {
    const url = await freshDatabaseUrl();
    // The schema as it was before chains were per instance, with a log and a checkpoint written then.
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
    const old = await new Migrator({ db, provider: migrationProvider('postgres'), ...MIGRATION_TABLES }).migrateTo(
      '0005_audit_spool_cursors',
    );
    assert.equal(old.error, undefined);
    const events = serialiseEvents([...sessionEvents('old-1', 10), ...sessionEvents('old-2', 20)]);
    const links = chainLinks(undefined, events);
    for (const [i, e] of events.entries()) {
      const link = links[i]!;
      await pool.query(
        'insert into audit_events (id, session_id, type, at, payload, prev_hash, hash) values ($1, $2, $3, $4, $5, $6, $7)',
        [link.seq, e.sessionId, e.type, e.at, e.payloadJson, link.prevHash, link.hash],
      );
    }
    const { signer } = CheckpointSigner.generate();
    const signed = signer.sign({ chain: 'default', eventId: 8, hash: links[7]!.hash, at: 30, reason: 'periodic' });
    await pool.query(
      'insert into audit_checkpoints (event_id, hash, at, reason, key_id, signature) values ($1, $2, $3, $4, $5, $6)',
      [signed.eventId, signed.hash, signed.at, signed.reason, signed.keyId, signed.signature],
    );
    await db.destroy();

    const continued = await PostgresStore.open(url, { chain: 'default' });
    const added = await PostgresStore.open(url, { chain: 'new-replica' });
    try {
      await continued.migrate();
      await continued.claimChain();
      await added.claimChain();
      const [next] = await continued.appendEvents(sessionEvents('old-3', 30));
      assert.deepEqual([next?.chain, next?.seq, next?.id, next?.prevHash], ['default', 9, 9, links[7]!.hash]);
      const [other] = await added.appendEvents(sessionEvents('new-1', 40));
      assert.deepEqual(
        [other?.chain, other?.seq, other?.id],
        ['new-replica', 1, 13],
        'row ids continue after the old ones',
      );
      assertChain(await readAll(continued));
      const report = await verifyStore(continued, { keys: keyRing([signer.publicKey]) });
      assert.ok(report.ok, JSON.stringify(report));
      assert.deepEqual(
        report.chains.map((c) => [c.chain, c.events, c.signedCheckpoints]),
        [
          ['default', 12, 1],
          ['new-replica', 4, 0],
        ],
      );
      assert.equal((await continued.getSession('old-3'))?.events.length, 4);
      assert.equal((await continued.readChain('default', 0, 100)).length, 12);
    } finally {
      await continued.close();
      await added.close();
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
