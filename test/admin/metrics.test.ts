import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { GatewayMetrics } from '../../src/admin/metrics.js';
import { classifySql, loadSqlClassifier } from '../../src/protocols/postgres/classify.js';

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
  const metrics = new GatewayMetrics({ defaultMetrics: false });
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
