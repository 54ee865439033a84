import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pino } from 'pino';
import { GatewayMetrics } from '../../src/admin/metrics.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import type { AuditEventInput } from '../../src/core/audit-event.js';
import { classifierCounts, classifySql, loadSqlClassifier } from '../../src/protocols/postgres/sql/classify.js';
import type { SpoolOptions } from '../../src/store/sqlite/spool-recording.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

before(loadSqlClassifier);

/** The counter's value per `source` label in a scrape. */
async function classifications(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const match of (await metrics.registry.metrics()).matchAll(
    /^gatehouse_sql_classifications_total\{source="(\w+)"\} (\d+)$/gm,
  ))
    values[match[1] as string] = Number(match[2]);
  return values;
}

test('the SQL classifications counter says how each message was classified: parsed, by shape, by exact text', async () => {
  const metrics = new GatewayMetrics({ defaultMetrics: false, sqlClassifier: classifierCounts });
  // Something classified before the first scrape: the counter reports the classifier's totals, not a sum of scrapes.
  classifySql('SELECT 1 FROM metrics_probe_warmup');
  const before = await classifications(metrics);
  assert.deepEqual(Object.keys(before).sort(), ['exact', 'parsed', 'shape']);
  classifySql('SELECT title FROM metrics_probe WHERE id = 1'); // parsed
  classifySql('SELECT title FROM metrics_probe WHERE id = 2'); // the same shape
  classifySql('SELECT title FROM metrics_probe WHERE id = 1'); // the same text
  const after = await classifications(metrics);
  const added = (source: string) => (after[source] ?? Number.NaN) - (before[source] ?? Number.NaN);
  assert.deepEqual(
    { exact: added('exact'), shape: added('shape'), parsed: added('parsed') },
    { exact: 1, shape: 1, parsed: 1 },
  );
});

/** Each audit metric's value in a scrape. */
async function auditMetrics(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const match of (await metrics.registry.metrics()).matchAll(/^gatehouse_audit_(\w+) (\d+)$/gm))
    values[match[1] as string] = Number(match[2]);
  return values;
}

test('the audit metrics count events, writes and refusals, and show the spool backlog until a drain takes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-'));
  const stores: SqliteStore[] = [];
  t.after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  const watched = async (name: string, spool: SpoolOptions) => {
    const store = await SqliteStore.open(join(dir, `${name}.db`));
    stores.push(store);
    await store.migrate();
    await store.startSpool({ thread: false, ...spool });
    const recorder = new AuditRecorder(store, { logger: pino({ level: 'silent' }) });
    const audit = { counts: recorder.counts, spoolBacklogBytes: () => store.spoolBacklogBytes() };
    return { recorder, metrics: new GatewayMetrics({ defaultMetrics: false, audit }) };
  };
  const event = (seq: number): AuditEventInput => ({ sessionId: 's', type: 'operation', at: seq, payload: { seq } });

  // Three records in one turn share a write; the fourth is a write of its own.
  const { recorder, metrics } = await watched('drained', { drainIntervalMs: 20 });
  await Promise.all([recorder.record(event(1)), recorder.record(event(2)), recorder.record(event(3))]);
  await recorder.record(event(4));
  const written = await auditMetrics(metrics);
  assert.equal(written['events_total'], 4);
  assert.equal(written['writes_total'], 2);
  assert.equal(written['refused_events_total'], 0);
  assert.ok((written['spool_backlog_bytes'] ?? 0) > 0, 'the spooled events are behind the log until a drain');
  const deadline = Date.now() + 10_000;
  while ((await auditMetrics(metrics))['spool_backlog_bytes'] !== 0) {
    assert.ok(Date.now() < deadline, 'the drain took the backlog within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  // A spool that may not fall behind at all refuses the second write: its events are counted as refused.
  const tight = await watched('refusing', { drainIntervalMs: 3_600_000, maxBacklogBytes: 1 });
  await tight.recorder.record(event(1));
  await assert.rejects(Promise.all([tight.recorder.record(event(2)), tight.recorder.record(event(3))]));
  const refused = await auditMetrics(tight.metrics);
  assert.deepEqual([refused['events_total'], refused['writes_total'], refused['refused_events_total']], [1, 1, 2]);
});
