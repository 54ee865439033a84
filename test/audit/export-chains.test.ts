import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { mergeChains } from '../../src/audit/chain-merge.js';
import type { ExportSink } from '../../src/audit/export-sink.js';
import { AuditExporter } from '../../src/audit/exporter.js';
import type { AuditEvent } from '../../src/core/audit-event.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { sessionEvents } from '../store/store-contract.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';

/** Continuous export over several instances' chains on the PostgreSQL store: time order, and a cursor per chain. */

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

class MemorySink implements ExportSink {
  readonly name = 'memory';
  readonly batches: { chain: string; seq: number; at: number }[][] = [];
  async deliver(lines: string): Promise<void> {
    this.batches.push(
      lines
        .trim()
        .split('\n')
        .map((l) => {
          const e = JSON.parse(l) as { chain: string; seq: number; at: string };
          return { chain: e.chain, seq: e.seq, at: Date.parse(e.at) };
        }),
    );
  }
}

describe('continuous export across chains', () => {
  it('delivers every chain in time order, and an event committed late with an older time is not skipped', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query('create database export_chains');
    await client.end();
    const url = new URL(server.url);
    url.pathname = '/export_chains';
    const a = await PostgresStore.open(url.toString(), { chain: 'a' });
    const b = await PostgresStore.open(url.toString(), { chain: 'b' });
    try {
      await a.migrate();
      await a.claimChain();
      await b.claimChain();
      await a.appendEvents(sessionEvents('a-1', 100));
      await b.appendEvents(sessionEvents('b-1', 102));
      const sink = new MemorySink();
      const logger = pino({ level: 'silent' });
      const exporter = new AuditExporter(a, [sink], { intervalMs: 1000, batch: 3, clock: { now: () => 0 }, logger });
      assert.equal(await exporter.catchUp(sink), 8);
      const first = sink.batches.flat();
      assert.deepEqual(
        first.map((e) => e.at),
        [100, 101, 102, 102, 103, 103, 104, 105],
        'batches of 3 merge the chains by time',
      );
      // A slow replica commits events timed before what was already delivered: the cursor is per chain.
      await b.appendEvents(sessionEvents('b-late', 50));
      assert.equal(await exporter.catchUp(sink), 4);
      const all = sink.batches.flat();
      assert.equal(new Set(all.map((e) => `${e.chain}:${e.seq}`)).size, 12, 'each event exactly once');
      assert.deepEqual(
        all.slice(8).map((e) => [e.chain, e.seq]),
        [
          ['b', 5],
          ['b', 6],
          ['b', 7],
          ['b', 8],
        ],
      );
      assert.deepEqual(
        await a.exportCursors('memory'),
        new Map([
          ['a', 4],
          ['b', 8],
        ]),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('merges by time but takes only a prefix of each chain, even where a clock stepped back', () => {
    const ev = (chain: string, seq: number, at: number) => ({ chain, seq, at }) as AuditEvent;
    const merged = mergeChains(
      [
        [ev('a', 1, 10), ev('a', 2, 5), ev('a', 3, 30)],
        [ev('b', 1, 20), ev('b', 2, 25)],
      ],
      4,
    );
    assert.deepEqual(
      merged.map((e) => `${e.chain}${e.seq}`),
      ['a1', 'a2', 'b1', 'b2'],
    );
  });
});
