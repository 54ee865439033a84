import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { AuditRecorder } from '../../src/audit/recorder.js';
import type { AuditEventInput } from '../../src/core/audit-event.js';
import { isGatehouseError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ForensicCopy, SessionQuery, SignedCheckpoint, Store } from '../../src/store/store.js';
import { assertChain, readAll } from '../store/store-contract.js';

const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-recorder-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/**
 * The real SqliteStore (without a spool: each batch is a commit), observed: counts recordEvents calls and how many run at once, and can hold the next call at
 * a gate the test opens (to create overlap without timing).
 */
class ObservedStore implements Store {
  readonly batches: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  gate: Promise<void> | undefined;

  constructor(readonly inner: SqliteStore) {}

  get dialect() {
    return this.inner.dialect;
  }

  get kysely() {
    return this.inner.kysely;
  }

  async recordEvents(events: readonly AuditEventInput[]): Promise<void> {
    this.batches.push(events.length);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      await this.inner.recordEvents(events);
    } finally {
      this.inFlight -= 1;
    }
  }
  get indexesInBackground() {
    return this.inner.indexesInBackground;
  }
  appendEvents = (events: readonly AuditEventInput[]) => this.inner.appendEvents(events);
  settle = () => this.inner.settle();
  migrate = () => this.inner.migrate();
  indexSessionEvents = () => this.inner.indexSessionEvents();
  listSessions = (query: SessionQuery) => this.inner.listSessions(query);
  getSession = (idPrefix: string) => this.inner.getSession(idPrefix);
  readEvents = (afterId: number, limit: number) => this.inner.readEvents(afterId, limit);
  get chain() {
    return this.inner.chain;
  }
  readChain = (chain: string, afterSeq: number, limit: number) => this.inner.readChain(chain, afterSeq, limit);
  listChains = () => this.inner.listChains();
  chainHead = (chain?: string) => this.inner.chainHead(chain);
  chainHeads = () => this.inner.chainHeads();
  firstEventIdAt = (at: number) => this.inner.firstEventIdAt(at);
  appendCheckpoint = (c: SignedCheckpoint) => this.inner.appendCheckpoint(c);
  listCheckpoints = (chain?: string) => this.inner.listCheckpoints(chain);
  exportCursors = (sink: string) => this.inner.exportCursors(sink);
  saveExportCursors = (sink: string, cursors: ReadonlyMap<string, number>, at: number) =>
    this.inner.saveExportCursors(sink, cursors, at);
  putForensicCopy = (copy: ForensicCopy) => this.inner.putForensicCopy(copy);
  forensicCopies = (sessionId: string) => this.inner.forensicCopies(sessionId);
  retentionBoundary = (chain: string, cutoff: number) => this.inner.retentionBoundary(chain, cutoff);
  prune = (throughId: number, anchor: SignedCheckpoint) => this.inner.prune(throughId, anchor);
  ping = () => this.inner.ping();
  close = () => this.inner.close();
}

const stores: ObservedStore[] = [];
async function openStore(): Promise<{ store: ObservedStore; path: string }> {
  const path = join(dir, `audit-${++n}.db`);
  const inner = await SqliteStore.open(path);
  await inner.migrate();
  const store = new ObservedStore(inner);
  stores.push(store);
  return { store, path };
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

const event = (sessionId: string, seq = 1): AuditEventInput => ({
  sessionId,
  type: 'operation',
  at: 1000 + seq,
  payload: { seq, verdict: 'allow' },
});

const isAuditUnavailable = (error: unknown) => isGatehouseError(error) && error.code === 'audit.unavailable';

describe('AuditRecorder over a real SqliteStore', () => {
  it('commits many concurrent records in few transactions, each resolving once its event is readable', async () => {
    const { store, path } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    // A second connection sees only committed rows: proof the event is durable, not just queued.
    const reader = new Database(path, { readonly: true });
    const committed = reader.prepare('select count(*) as n from audit_events where session_id = ?');
    const visibleAtResolve: boolean[] = [];
    try {
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          recorder.record(event(`rec-${i}`)).then(() => {
            visibleAtResolve[i] = (committed.get(`rec-${i}`) as { n: number }).n === 1;
          }),
        ),
      );
    } finally {
      reader.close();
    }
    assert.equal(visibleAtResolve.filter(Boolean).length, 300);
    assert.ok(store.batches.length <= 3, `300 records took ${store.batches.length} transactions`);
    const all = await readAll(store);
    assert.equal(all.length, 300);
    assertChain(all);
    assert.deepEqual(
      all.map((e) => e.sessionId),
      Array.from({ length: 300 }, (_, i) => `rec-${i}`),
      'recorded order is kept',
    );
  });

  it('after a batch with company, gives records one more turn of the event loop to join; a lone caller waits none', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    // A lone caller: a record arriving a turn later has missed the transaction.
    await Promise.all([recorder.record(event('lone-1')), nextTurn().then(() => recorder.record(event('lone-2')))]);
    assert.deepEqual(store.batches, [1, 1]);
    // Company (two records in one turn), then the same pattern: the later record joins.
    await Promise.all([recorder.record(event('busy-1')), recorder.record(event('busy-2'))]);
    await Promise.all([recorder.record(event('busy-3')), nextTurn().then(() => recorder.record(event('busy-4')))]);
    assert.deepEqual(store.batches, [1, 1, 2, 2]);
  });

  it('lets a deferred record share the next transaction, and writes it alone once deferMs has passed', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger, deferMs: 50 });
    const deferred = recorder.record(event('deferred-1'), { defer: true });
    // An urgent record arriving before the deferred one was written takes it along: one transaction for both.
    await Promise.all([deferred, recorder.record(event('urgent-1'))]);
    assert.deepEqual(store.batches, [2]);
    // Alone, a deferred record is still written: the timer flushes it.
    await recorder.record(event('deferred-2'), { defer: true });
    assert.deepEqual(store.batches, [2, 1]);
    assert.equal((await store.inner.readEvents(0, 10)).length, 3);
  });

  it('amends a queued event in place (one row), and refuses once its write has begun', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    const queued = event('amend-1');
    const durable = recorder.record(queued);
    assert.equal(recorder.amend(queued, { result: { outcome: 'ok', rows: 3 } }), true);
    await durable;
    const taken = event('amend-2');
    const written = recorder.record(taken);
    await written;
    assert.equal(recorder.amend(taken, { result: { outcome: 'ok' } }), false, 'already written');
    assert.equal(recorder.amend(event('amend-3'), { result: {} }), false, 'never recorded here');
    const all = await readAll(store);
    assert.deepEqual(
      all.map((e) => [e.sessionId, e.payload]),
      [
        ['amend-1', { seq: 1, verdict: 'allow', result: { outcome: 'ok', rows: 3 } }],
        ['amend-2', { seq: 1, verdict: 'allow' }],
      ],
    );
    assertChain(all);
  });

  it('never writes more than maxBatch events in one transaction', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger, maxBatch: 50 });
    await Promise.all(Array.from({ length: 120 }, (_, i) => recorder.record(event('batched', i))));
    assert.ok(store.batches.every((size) => size <= 50));
    assert.equal(
      store.batches.reduce((a, b) => a + b, 0),
      120,
    );
    assertChain(await readAll(store));
  });

  it('keeps one write in flight when flush() races the scheduled write', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    let open!: () => void;
    store.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const first = recorder.record(event('race', 1));
    const flushed = recorder.flush();
    const second = recorder.record(event('race', 2));
    // Let the scheduled write's turn come while flush()'s write is still held at the gate.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(store.maxInFlight, 1);
    open();
    await Promise.all([first, second, flushed]);
    await recorder.flush();
    assert.equal(store.maxInFlight, 1);
    assert.deepEqual(
      (await readAll(store)).map((e) => e.payload.seq),
      [1, 2],
    );
  });

  it('refuses with audit.unavailable when the database refuses the write, then recovers', async () => {
    const { store, path } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    await recorder.record(event('before'));
    const admin = new Database(path);
    try {
      admin.exec(`create trigger refuse before insert on audit_events begin select raise(abort, 'refused'); end`);
      const refused = await Promise.allSettled([recorder.record(event('x', 1)), recorder.record(event('x', 2))]);
      for (const outcome of refused) {
        assert.equal(outcome.status, 'rejected');
        assert.ok(isAuditUnavailable((outcome as PromiseRejectedResult).reason));
      }
      admin.exec('drop trigger refuse');
    } finally {
      admin.close();
    }
    await recorder.record(event('after'));
    const all = await readAll(store);
    assert.deepEqual(
      all.map((e) => e.sessionId),
      ['before', 'after'],
    );
    assertChain(all);
  });

  it('refuses with audit.unavailable once the store is closed', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    await recorder.record(event('open'));
    await store.close();
    await assert.rejects(recorder.record(event('closed')), isAuditUnavailable);
  });

  it('refuses a whole batch when one payload cannot be serialised, storing none of it', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    const good = recorder.record(event('good'));
    const bad = recorder.record({ sessionId: 'bad', type: 'operation', at: 1, payload: { size: 1n } });
    const outcomes = await Promise.allSettled([good, bad]);
    assert.ok(outcomes.every((o) => o.status === 'rejected' && isAuditUnavailable(o.reason)));
    assert.deepEqual(await readAll(store), []);
  });

  it('rejects records after close()', async () => {
    const { store } = await openStore();
    const recorder = new AuditRecorder(store, { logger });
    const pending = recorder.record(event('last'));
    await recorder.close();
    await pending;
    await assert.rejects(recorder.record(event('too-late')), isAuditUnavailable);
    assert.equal((await readAll(store)).length, 1);
  });
});
