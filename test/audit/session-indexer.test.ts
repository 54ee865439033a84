import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pino from 'pino';
import { SessionIndexer } from '../../src/audit/session-indexer.js';
import type { AuditEventInput } from '../../src/core/audit-event.js';
import { CATCH_UP_BATCH } from '../../src/store/session-event-index.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-indexer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const logger = pino({ level: 'silent' });

async function cursor(store: SqliteStore): Promise<number> {
  const result = await sql<{ event_id: number }>`select indexed_seq as event_id from audit_chains`.execute(
    store.kysely,
  );
  return Number(result.rows[0]?.event_id);
}

describe('SessionIndexer', () => {
  it('catches up at start, a batch at a time, until the index reaches the head, without waiting for its interval', async () => {
    const store = await SqliteStore.open(join(dir, 'audit.db'));
    await store.migrate();
    // A tail of two and a half batches, as a crash under load could leave.
    const total = Math.floor(CATCH_UP_BATCH * 2.5);
    const events: AuditEventInput[] = Array.from({ length: total }, (_, i) => ({
      sessionId: `tail-${i % 7}`,
      type: 'operation',
      at: i,
      payload: { seq: i, verdict: 'allow' },
    }));
    await store.appendEvents(
      Array.from({ length: 7 }, (_, k) => ({
        sessionId: `tail-${k}`,
        type: 'session.start' as const,
        at: 0,
        payload: { protocol: 'postgres', issuer: 'https://issuer.test', subject: `job-${k}`, groups: [] },
      })),
    );
    for (let i = 0; i < events.length; i += 1000) await store.appendEvents(events.slice(i, i + 1000));
    assert.equal(await cursor(store), 0);
    const head = total + 7;

    // An interval far longer than the test: only the start and the chaining of full batches can do the work.
    const indexer = new SessionIndexer(store, { intervalMs: 3_600_000, logger });
    indexer.start();
    try {
      for (let waited = 0; (await cursor(store)) < head && waited < 10_000; waited += 20) await sleep(20);
      assert.equal(await cursor(store), head);
      assert.equal(await store.indexSessionEvents(), 0, 'nothing is left for a catch-up');
      const session = await store.getSession('tail-3');
      assert.equal(session?.events.length, 1 + Math.ceil((total - 3) / 7), 'its start and every operation');
    } finally {
      indexer.stop();
      await store.close();
    }
  });

  it('stops: no catch-up runs after stop()', async () => {
    const store = await SqliteStore.open(join(dir, 'stopped.db'));
    await store.migrate();
    await store.appendEvents([{ sessionId: 's', type: 'operation', at: 1, payload: { seq: 1, verdict: 'allow' } }]);
    const indexer = new SessionIndexer(store, { intervalMs: 5, logger });
    indexer.start();
    indexer.stop();
    await sleep(50);
    assert.equal(await cursor(store), 0);
    await store.close();
  });
});
