import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import pino from 'pino';
import { type AuditEvent, type AuditEventInput, unfoldResults } from '../../src/core/audit-event.js';
import { eventHash, GENESIS_HASH, type SerialisedEvent } from '../../src/store/hash-chain.js';
import { spoolDirectory } from '../../src/store/sqlite/audit-spool.js';
import { decodeFrames, encodeFrame } from '../../src/store/sqlite/spool-format.js';

/** A frame of its own (encodeFrame returns a view the next call reuses). */
const frameOf = (events: readonly SerialisedEvent[]) => Buffer.from(encodeFrame(events));

import { type SpoolOptions, SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-spool-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Long enough that only the test's own settle() or close() drains, never the thread while a test looks. */
const NO_THREAD_DRAIN: SpoolOptions = { drainIntervalMs: 3_600_000 };

const start = (sessionId: string, at: number): AuditEventInput => ({
  sessionId,
  type: 'session.start',
  at,
  payload: { protocol: 'postgres', resource: 'app', issuer: 'iss', subject: `job-${sessionId}`, groups: ['ci'] },
});
const op = (sessionId: string, seq: number, text = `SELECT ${seq}`): AuditEventInput => ({
  sessionId,
  type: 'operation',
  at: 1000 + seq,
  payload: { seq, text, verdict: 'allow' },
});

async function openSpooled(options: SpoolOptions = NO_THREAD_DRAIN): Promise<{ store: SqliteStore; path: string }> {
  const path = join(dir, `spool-${++n}.db`);
  const store = await SqliteStore.open(path);
  await store.migrate();
  await store.startSpool(options);
  return { store, path };
}

async function allEvents(store: SqliteStore): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  for (
    let page = await store.readEvents(0, 1000);
    page.length > 0;
    page = await store.readEvents(page.at(-1)!.id, 1000)
  ) {
    all.push(...page);
  }
  return all;
}

/**
 * The log once it holds `count` events, or as it is after 20 s. readEvents does not settle: only a drain nobody
 * asked for (the spool thread's, or the inline one) can have moved them.
 */
async function drainedUnasked(store: SqliteStore, count: number): Promise<AuditEvent[]> {
  const deadline = Date.now() + 20_000;
  let events: AuditEvent[] = [];
  while (events.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    events = await allEvents(store);
  }
  return events;
}

/** Recomputes the chain from the stored rows: ids 1..n, each hash over the previous one. */
function assertChained(events: readonly AuditEvent[]): void {
  let prev = GENESIS_HASH;
  events.forEach((e, i) => {
    assert.equal(e.id, i + 1, 'ids follow each other');
    assert.equal(e.prevHash, prev);
    const expected = eventHash(prev, { ...e, payloadJson: JSON.stringify(e.payload) });
    assert.equal(e.hash, expected, `event ${e.id}'s hash`);
    prev = e.hash;
  });
}

/** The log holds operations 1..count, in order, and its chain recomputes. */
function assertOperations(events: readonly AuditEvent[], count: number): void {
  assert.deepEqual(
    events.map((e) => e.payload.seq),
    Array.from({ length: count }, (_, i) => i + 1),
  );
  assertChained(events);
}

describe('audit spool frames', () => {
  const events: SerialisedEvent[] = [
    { sessionId: 's-1', type: 'operation', at: 1, payloadJson: '{"text":"SELECT \'é ✓ 🙂\'\\nFROM t"}' },
    { sessionId: 's-2', type: 'session.end', at: 2, payloadJson: '{}' },
  ];

  it('decodes what it encodes, several frames in a row, non-ASCII text included', () => {
    const bytes = Buffer.concat([frameOf(events), frameOf([events[1]!])]);
    const decoded = decodeFrames(bytes);
    assert.deepEqual(decoded.events, [...events, events[1]]);
    assert.equal(decoded.consumed, bytes.length);
    assert.equal(decoded.stop, undefined);
  });

  it('stops before a frame that is not all there yet, and before a damaged one', () => {
    const first = frameOf(events);
    const second = frameOf(events);
    const cut = decodeFrames(Buffer.concat([first, second.subarray(0, second.length - 1)]));
    assert.equal(cut.stop, 'partial');
    assert.equal(cut.consumed, first.length);
    assert.equal(cut.events.length, 2);

    const damaged = Buffer.from(second);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 3) ^ 0x01, damaged.length - 3);
    const broken = decodeFrames(Buffer.concat([first, damaged]));
    assert.equal(broken.stop, 'broken');
    assert.equal(broken.consumed, first.length);
  });

  it('reads a frame whose lines do not make whole events as broken, though its checksum matches', () => {
    for (const body of ['s-1\noperation\n1', 's-1\noperation\n1\n{}\ns-2', 's-1\noperation\nsoon\n{}']) {
      const bytes = Buffer.from(`12345678${body}`);
      bytes.writeUInt32LE(bytes.length - 8, 0);
      bytes.writeUInt32LE(crc32(bytes.subarray(8)), 4);
      const decoded = decodeFrames(Buffer.concat([frameOf(events), bytes]));
      assert.equal(decoded.stop, 'broken', JSON.stringify(body));
      assert.equal(decoded.events.length, 2);
    }
  });

  it('refuses a session id or type that would break the line format', () => {
    assert.throws(() => encodeFrame([{ ...events[0]!, sessionId: 'a\nb' }]), /cannot be spooled/);
    assert.throws(() => encodeFrame([{ ...events[0]!, type: 'nope' as 'operation' }]), /cannot be spooled/);
  });
});

describe('SqliteStore with a spool', () => {
  it('holds recorded events in the spool until a drain chains them into the log, sessions and index included', async () => {
    const { store, path } = await openSpooled();
    try {
      await store.recordEvents([start('s-a', 10), op('s-a', 1)]);
      await store.recordEvents([op('s-a', 2), { sessionId: 's-a', type: 'session.end', at: 20, payload: {} }]);
      assert.deepEqual(await allEvents(store), [], 'nothing drained yet');
      const segments = readdirSync(spoolDirectory(path));
      assert.equal(segments.length, 1);
      assert.ok(readFileSync(join(spoolDirectory(path), segments[0]!)).length > 0, 'the events are in the spool file');

      await store.settle();
      const events = await allEvents(store);
      assert.deepEqual(
        events.map((e) => [e.type, e.payload.seq ?? null]),
        [
          ['session.start', null],
          ['operation', 1],
          ['operation', 2],
          ['session.end', null],
        ],
      );
      assertChained(events);
      const session = await store.getSession('s-a');
      assert.equal(session?.summary.subject, 'job-s-a');
      assert.equal(session?.summary.endedAt, 20);
      assert.equal(session?.summary.operations, 2);
      // The drain caught the session index up in the same commit.
      const peek = new Database(path, { readonly: true });
      const cursor = peek.prepare("select indexed_seq as event_id from audit_chains where chain = 'default'").get() as {
        event_id: number;
      };
      peek.close();
      assert.equal(cursor.event_id, 4);
    } finally {
      await store.close();
    }
    assert.deepEqual(readdirSync(spoolDirectory(path)), [], 'a closed store leaves no segment behind');
  });

  it("stores a result drained with its operation in the operation's row, as one that joined it in the queue", async () => {
    const { store } = await openSpooled();
    try {
      const result = (seq: number, at: number): AuditEventInput => ({
        sessionId: 's-f',
        type: 'operation.result',
        at,
        payload: { seq, durationMs: at - (1000 + seq), outcome: 'ok', rows: 1 },
      });
      // Each result recorded after its operation's write, as with one client; the second drain takes the last one.
      await store.recordEvents([start('s-f', 10), op('s-f', 1)]);
      await store.recordEvents([result(1, 1005), op('s-f', 2)]);
      await store.recordEvents([result(2, 1009)]);
      await store.settle();
      await store.recordEvents([op('s-f', 3)]);
      await store.settle();
      await store.recordEvents([result(3, 1010)]);
      await store.settle();
      const events = await allEvents(store);
      assert.deepEqual(
        events.map((e) => [e.type, e.payload.seq, e.payload.result]),
        [
          ['session.start', undefined, undefined],
          ['operation', 1, { durationMs: 4, outcome: 'ok', rows: 1 }],
          ['operation', 2, { durationMs: 7, outcome: 'ok', rows: 1 }],
          ['operation', 3, undefined],
          ['operation.result', 3, undefined],
        ],
        'two rows fewer; an operation drained before its result keeps it apart',
      );
      assertChained(events);
      const session = await store.getSession('s-f');
      assert.deepEqual(
        unfoldResults(session?.events ?? []).map((e) => [e.type, e.at]),
        [
          ['session.start', 10],
          ['operation', 1001],
          ['operation.result', 1005],
          ['operation', 1002],
          ['operation.result', 1009],
          ['operation', 1003],
          ['operation.result', 1010],
        ],
      );
    } finally {
      await store.close();
    }
  });

  it('is drained by its own thread without anyone asking', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const { store } = await openSpooled({ drainIntervalMs: 20, logger });
    try {
      await store.recordEvents([start('s-t', 1), op('s-t', 1)]);
      const events = await drainedUnasked(store, 2);
      assert.equal(events.length, 2, 'the thread drained both events');
      assertChained(events);
      assert.deepEqual(warnings, [], 'the thread started: nothing fell back to draining on this thread');
    } finally {
      await store.close();
    }
  });

  it('is drained on the gateway thread when it has no spool thread (the fallback when one cannot start)', async () => {
    const { store } = await openSpooled({ drainIntervalMs: 20, thread: false });
    try {
      await store.recordEvents([start('s-i', 1), op('s-i', 1), op('s-i', 2)]);
      const events = await drainedUnasked(store, 3);
      assert.equal(events.length, 3, 'the inline drain moved all three events');
      assertChained(events);
    } finally {
      await store.close();
    }
  });

  it("keeps the store's read-then-write transactions working while its thread commits drains", async () => {
    const { store } = await openSpooled({ drainIntervalMs: 1 });
    try {
      for (let i = 1; i <= 20; i++) {
        // A review decision's shape: read, wait a little (other turns of the event loop), then write.
        await store.kysely.transaction().execute(async (trx) => {
          await trx.selectFrom('export_cursors').selectAll().execute();
          await store.recordEvents([op('s-x', i)]);
          await new Promise((r) => setTimeout(r, 10)); // the thread tries to drain (commit) meanwhile
          await trx
            .insertInto('export_cursors')
            .values({ sink: `sink-${i}`, event_id: i, updated_at: i })
            .execute();
        });
      }
      const rows = await store.kysely.selectFrom('export_cursors').select('sink').execute();
      assert.equal(rows.length, 20);
      await store.settle();
      assertOperations(await allEvents(store), 20);
    } finally {
      await store.close();
    }
  });

  it('refuses what a batch check refuses, writing nothing', async () => {
    const { store } = await openSpooled();
    try {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(
        store.recordEvents([op('s', 1), { sessionId: 's', type: 'operation', at: 2, payload: cyclic }]),
      );
      await assert.rejects(
        store.recordEvents([{ sessionId: 's', type: 'session.start', at: 1, payload: { protocol: 'x' } }]),
        /lacks protocol/,
      );
      await store.recordEvents([op('s', 3)]);
      await store.settle();
      assert.deepEqual(
        (await allEvents(store)).map((e) => e.payload.seq),
        [3],
      );
    } finally {
      await store.close();
    }
  });

  it('moves to a new segment past its size and deletes drained ones while still writing', async () => {
    const { store, path } = await openSpooled({ ...NO_THREAD_DRAIN, segmentBytes: 4096 });
    try {
      for (let i = 1; i <= 200; i++) await store.recordEvents([op('s-r', i, `SELECT '${'x'.repeat(100)}'`)]);
      const before = readdirSync(spoolDirectory(path)).sort();
      assert.ok(before.length >= 5, `${before.length} segments`);
      await store.settle();
      const afterDrain = readdirSync(spoolDirectory(path));
      assert.deepEqual(afterDrain, [before.at(-1)], 'only the segment still written to is kept');
      await store.recordEvents([op('s-r', 201)]);
      await store.settle();
      const events = await allEvents(store);
      assertOperations(events, 201);
    } finally {
      await store.close();
    }
  });

  it('drains frames larger than one read between small ones, across segments, each payload whole', async () => {
    // A drain reads up to 4 MiB at a time into a buffer it reuses, a larger frame whole into one of its own; the reads
    // after it (smaller, other segments) must not see its bytes.
    const { store, path } = await openSpooled({ ...NO_THREAD_DRAIN, segmentBytes: 1024 * 1024 });
    try {
      const big = (seq: number, fill: string) => op('s-big', seq, `SELECT '${fill.repeat(5 * 1024 * 1024)}'`);
      await store.recordEvents([op('s-big', 1)]);
      await store.recordEvents([big(2, 'a')]);
      await store.recordEvents([op('s-big', 3), op('s-big', 4, "SELECT 'é'")]);
      await store.recordEvents([big(5, 'b')]);
      await store.recordEvents([op('s-big', 6)]);
      assert.ok(readdirSync(spoolDirectory(path)).length >= 3, 'the frames are in several segments');
      await store.settle();
      const events = await allEvents(store);
      assertOperations(events, 6);
      const texts = events.map((e) => String(e.payload.text));
      assert.equal(texts[1], `SELECT '${'a'.repeat(5 * 1024 * 1024)}'`);
      assert.equal(texts[4], `SELECT '${'b'.repeat(5 * 1024 * 1024)}'`);
      assert.deepEqual([texts[0], texts[2], texts[3], texts[5]], ['SELECT 1', 'SELECT 3', "SELECT 'é'", 'SELECT 6']);
    } finally {
      await store.close();
    }
  });

  it('lets several drainers take turns: no event lost or written twice', async () => {
    const { store, path } = await openSpooled({ drainIntervalMs: 5, segmentBytes: 64 * 1024 });
    // A second store on the same file, as a CLI reading while the gateway runs: its settle() drains too.
    const reader = await SqliteStore.open(path);
    await reader.migrate();
    try {
      for (let i = 1; i <= 3000; i++) {
        await store.recordEvents([op('s-c', i)]);
        if (i % 50 === 0) await reader.settle();
        if (i % 70 === 0) await store.settle();
      }
      await store.settle();
      const events = await allEvents(reader);
      assertOperations(events, 3000);
    } finally {
      await reader.close();
      await store.close();
    }
  });

  it('takes nothing from a drain that fails part-way, and everything once from the next', async () => {
    const { store, path } = await openSpooled();
    const side = new Database(path);
    const peek = () => ({
      events: (side.prepare('select count(*) n from audit_events').get() as { n: number }).n,
      indexed: (
        side.prepare("select count(*) n from audit_session_events where session_id = 's-f'").get() as { n: number }
      ).n,
      indexCursor: (
        side.prepare("select indexed_seq as event_id from audit_chains where chain = 'default'").get() as {
          event_id: number;
        }
      ).event_id,
      spoolCursors: side.prepare('select segment, applied from audit_spool_cursors order by segment').all(),
    });
    try {
      await store.recordEvents([op('s-f', 1), op('s-f', 2)]);
      await store.settle();
      const before = peek();
      assert.deepEqual([before.events, before.indexed, before.indexCursor], [2, 2, 2]);

      await store.recordEvents([op('s-f', 3), op('s-f', 4), op('s-f', 5)]);
      // An index entry the catch-up will also write: the drain fails after inserting events 3-5.
      side.prepare("insert into audit_session_events (session_id, event_id) values ('s-f', 5)").run();
      await assert.rejects(store.settle(), /UNIQUE constraint failed/);
      const failed = peek();
      assert.deepEqual(
        { ...failed, indexed: failed.indexed - 1 },
        before,
        'no event, index entry or cursor of the failed drain stays',
      );

      side.prepare("delete from audit_session_events where session_id = 's-f' and event_id = 5").run();
      await store.settle();
      assertOperations(await allEvents(store), 5);
      const after = peek();
      assert.deepEqual([after.indexed, after.indexCursor], [5, 5]);
    } finally {
      side.close();
      await store.close();
    }
  });

  it('refuses new events when the log falls too far behind, and takes them again once it catches up', async () => {
    const { store, path } = await openSpooled({ drainIntervalMs: 10, maxBacklogBytes: 16 * 1024 });
    const blocker = new Database(path);
    try {
      blocker.exec('BEGIN IMMEDIATE'); // another process holding the write lock: no drain gets through
      let refused: unknown;
      for (let i = 1; i <= 2000 && refused === undefined; i++) {
        await store.recordEvents([op('s-b', i, `SELECT '${'y'.repeat(200)}'`)]).catch((error: unknown) => {
          refused = error;
        });
      }
      assert.match(String(refused), /behind its spool/);
      blocker.exec('COMMIT');
      const deadline = Date.now() + 30_000;
      let accepted = false;
      while (!accepted && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        accepted = await store.recordEvents([op('s-b', 9999)]).then(
          () => true,
          () => false,
        );
      }
      assert.ok(accepted, 'accepted again once the thread drained the backlog');
    } finally {
      if (blocker.inTransaction) blocker.exec('ROLLBACK');
      blocker.close();
      await store.close();
    }
  });
});

describe('a spool left by a killed gateway', () => {
  const writer = (path: string, events: number) => `
    import { SqliteStore } from ${JSON.stringify(new URL('../../src/store/sqlite/sqlite-store.ts', import.meta.url).href)};
    const store = await SqliteStore.open(${JSON.stringify(path)});
    await store.migrate();
    await store.startSpool({ drainIntervalMs: 3_600_000 });
    for (let i = 1; i <= ${events}; i++) {
      await store.recordEvents([{ sessionId: 'killed', type: 'operation', at: i, payload: { seq: i } }]);
    }
    process.kill(process.pid, 'SIGKILL');
  `;

  function killedWriter(events: number): string {
    const path = join(dir, `killed-${++n}.db`);
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer(path, events)], {
      encoding: 'utf8',
    });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    return path;
  }

  it('is drained by the next store that opens the file, and its segment deleted', async () => {
    const path = killedWriter(500);
    assert.equal(readdirSync(spoolDirectory(path)).length, 1, 'the killed writer left its segment');
    const store = await SqliteStore.open(path);
    await store.migrate();
    try {
      assert.equal((await allEvents(store)).length, 0, 'none of it reached the log before the kill');
      await store.settle();
      const events = await allEvents(store);
      assertOperations(events, 500);
      assert.deepEqual(readdirSync(spoolDirectory(path)), []);
    } finally {
      await store.close();
    }
  });

  it('skips a torn last frame (a write cut short, never acknowledged) and keeps the whole frames before it', async () => {
    const path = killedWriter(20);
    const [segment] = readdirSync(spoolDirectory(path));
    const file = join(spoolDirectory(path), segment!);
    const extra = frameOf([{ sessionId: 'killed', type: 'operation', at: 21, payloadJson: '{"seq":21}' }]);
    appendFileSync(file, extra.subarray(0, extra.length - 4));
    const store = await SqliteStore.open(path);
    await store.migrate();
    try {
      await store.settle();
      assertOperations(await allEvents(store), 20);
      assert.equal(existsSync(file), false, 'the sealed segment is gone');
    } finally {
      await store.close();
    }
  });
});
