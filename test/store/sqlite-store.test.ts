import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Migrator } from 'kysely';
import { MIGRATION_TABLES, migrationProvider } from '../../src/store/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { readAll, sessionEvents, storeContract } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const nextPath = () => join(dir, `nested/dir-${++n}/gatehouse.db`);

storeContract('SQLite', () => SqliteStore.open(nextPath()));

describe('SqliteStore', () => {
  it('uses WAL with synchronous NORMAL by default and FULL on request', async () => {
    const normalPath = nextPath();
    const normal = await SqliteStore.open(normalPath);
    await normal.migrate();
    const full = await SqliteStore.open(nextPath(), { synchronous: 'full' });
    await full.migrate();
    const peek = new Database(normalPath, { readonly: true });
    assert.equal(peek.pragma('journal_mode', { simple: true }), 'wal');
    peek.close();
    // synchronous is per connection: read it on the store's own handle.
    assert.equal((normal as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }), 1);
    assert.equal((full as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }), 2);
    await normal.close();
    await full.close();
  });

  it('makes new files with 16 KiB pages, keeps the page size of older ones, and checkpoints every 4 MiB of WAL', async () => {
    const freshPath = nextPath();
    const fresh = await SqliteStore.open(freshPath);
    await fresh.migrate();
    const freshDb = (fresh as unknown as { db: Database.Database }).db;
    assert.equal(freshDb.pragma('page_size', { simple: true }), 16_384);
    assert.equal(freshDb.pragma('wal_autocheckpoint', { simple: true }), 256);
    await fresh.close();

    // A file made before (SQLite's default 4 KiB pages) is not rewritten: its pages stay, and it still works.
    const olderPath = nextPath();
    mkdirSync(dirname(olderPath), { recursive: true });
    const made = new Database(olderPath);
    made.pragma('page_size = 4096');
    made.exec('create table made_before (x)');
    made.close();
    const older = await SqliteStore.open(olderPath);
    await older.migrate();
    await older.appendEvents([{ sessionId: 'older', type: 'session.end', at: 1, payload: { reason: 'test' } }]);
    const olderDb = (older as unknown as { db: Database.Database }).db;
    assert.equal(olderDb.pragma('page_size', { simple: true }), 4096);
    assert.equal(olderDb.pragma('wal_autocheckpoint', { simple: true }), 1024);
    assert.equal((await readAll(older)).length, 1);
    await older.close();
  });

  it('keeps the WAL bounded under a steady stream of appends', async () => {
    // A regression guard: a checkpoint run from another connection cannot reset the WAL while this one keeps
    // writing, and the WAL grew without end (700 MB in 30 s of pgbench). The store checkpoints in its own commits.
    const path = nextPath();
    const store = await SqliteStore.open(path);
    await store.migrate();
    const payload = { seq: 1, text: `select '${'x'.repeat(2000)}'`, verdict: 'allow' };
    for (let i = 0; i < 120; i++) {
      await store.appendEvents(
        Array.from({ length: 50 }, (_, j) => ({
          sessionId: `steady-${i % 8}`,
          type: 'operation' as const,
          at: j,
          payload,
        })),
      );
    }
    const wal = statSync(`${path}-wal`).size;
    assert.ok(wal < 8_000_000, `the WAL holds ${wal} bytes`);
    assert.ok(statSync(path).size > 10_000_000, 'the 12 MB written reached the database file');
    await store.close();
  });

  it('migrates a log written before the session index moved behind it', async () => {
    const path = nextPath();
    const store = await SqliteStore.open(path);
    // The schema as released before 0004: an index on audit_events(session_id, id), no audit_session_events.
    const old = await new Migrator({
      db: store.kysely,
      provider: migrationProvider('sqlite'),
      ...MIGRATION_TABLES,
    }).migrateTo('0003_audit_checkpoints_export_forensic');
    assert.equal(old.error, undefined);
    await store.appendEvents([...sessionEvents('before-a', 10), ...sessionEvents('before-b', 20)]);

    await store.migrate();
    const peek = new Database(path, { readonly: true });
    const indexes = peek.pragma('index_list(audit_events)') as { name: string }[];
    const cursor = peek.prepare("select indexed_seq as event_id from audit_chains where chain = 'default'").get();
    const entries = peek.prepare('select count(*) as n from audit_session_events').get();
    peek.close();
    assert.deepEqual(
      indexes.map((i) => i.name),
      [],
      'the per-append index is gone',
    );
    assert.deepEqual(
      [cursor, entries],
      [{ event_id: 8 }, { n: 8 }],
      'every old event is indexed, the cursor at the head',
    );
    assert.equal(await store.indexSessionEvents(), 0);
    assert.deepEqual(
      (await store.getSession('before-b'))?.events.map((e) => e.id),
      [5, 6, 7, 8],
    );
    await store.close();
  });

  it('leaves the session index to writers: a store that only reads writes nothing when it closes', async () => {
    const path = nextPath();
    const writer = await SqliteStore.open(path);
    await writer.migrate();
    await writer.appendEvents(sessionEvents('unindexed', 10));
    // The gateway killed before any catch-up: its handle goes without the store's close.
    (writer as unknown as { db: Database.Database }).db.close();

    const reader = await SqliteStore.open(path);
    await reader.migrate();
    assert.equal((await reader.getSession('unindexed'))?.events.length, 4, 'found in the unindexed tail');
    await reader.close();
    const peek = new Database(path, { readonly: true });
    const cursor = peek.prepare("select indexed_seq as event_id from audit_chains where chain = 'default'").get();
    peek.close();
    assert.deepEqual(cursor, { event_id: 0 });

    const next = await SqliteStore.open(path);
    await next.migrate();
    await next.appendEvents(sessionEvents('later', 20));
    await next.close();
    const after = new Database(path, { readonly: true });
    assert.deepEqual(after.prepare('select indexed_seq as event_id from audit_chains').get(), { event_id: 8 });
    after.close();
  });

  it('keeps what was appended across reopening the file', async () => {
    const path = nextPath();
    const first = await SqliteStore.open(path);
    await first.migrate();
    const written = await first.appendEvents(sessionEvents('persisted', 1));
    await first.close();
    const again = await SqliteStore.open(path);
    await again.migrate();
    const stored = await readAll(again);
    assert.deepEqual(
      stored.map(({ id, chain, seq, prevHash, hash }) => ({ id, chain, seq, prevHash, hash })),
      written,
    );
    assert.equal(stored[0]?.sessionId, 'persisted');
    const next = await again.appendEvents(sessionEvents('more', 2));
    assert.equal(next[0]?.prevHash, written.at(-1)?.hash);
    await again.close();
  });

  it('two connections to one file extend one chain', async () => {
    const path = nextPath();
    const a = await SqliteStore.open(path);
    const b = await SqliteStore.open(path);
    await a.migrate();
    await b.migrate();
    for (let i = 0; i < 10; i++) {
      await (i % 2 === 0 ? a : b).appendEvents(sessionEvents(`s-${i}`, i));
    }
    const all = await readAll(a);
    assert.deepEqual(
      all.map((e) => e.id),
      all.map((_, i) => i + 1),
    );
    for (let i = 1; i < all.length; i++) assert.equal(all[i]?.prevHash, all[i - 1]?.hash);
    await a.close();
    await b.close();
  });

  it('rejects appends after close', async () => {
    const store = await SqliteStore.open(nextPath());
    await store.migrate();
    await store.close();
    await assert.rejects(store.appendEvents(sessionEvents('late', 1)));
  });
});
