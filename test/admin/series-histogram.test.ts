import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { GatewayMetrics } from '../../src/admin/metrics.js';
import { SeriesHistogram } from '../../src/admin/series-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
/** Below, on and between the bounds, above every bound. */
const OBSERVATIONS = [0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.5, 1, 3, 0.0001];

describe('SeriesHistogram', () => {
  it("exposes exactly what prom-client's own Histogram does for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const histogram = new SeriesHistogram('probe_seconds', 'A probe', BUCKETS, ours);
    const reference = new Histogram({
      name: 'probe_seconds',
      help: 'A probe',
      labelNames: ['protocol', 'resource'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const app = histogram.newSeries({ protocol: 'postgres', resource: 'app' });
    const other = histogram.newSeries({ protocol: 'http', resource: 'llm' });
    for (const [i, seconds] of OBSERVATIONS.entries()) {
      app.observe(seconds);
      reference.observe({ protocol: 'postgres', resource: 'app' }, seconds);
      if (i % 3 === 0) {
        other.observe(seconds * 2);
        reference.observe({ protocol: 'http', resource: 'llm' }, seconds * 2);
      }
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    // The JSON form too, but for exemplars (prom-client lists a null one per bucket; we keep none).
    const json = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).map(({ name, help, type, aggregator, values }) => ({
        name,
        help,
        type,
        aggregator,
        values: values.map((v) => ({
          labels: v.labels,
          value: v.value,
          metricName: (v as { metricName?: string }).metricName,
        })),
      }));
    assert.deepEqual(await json(ours), await json(theirs));
    assert.match(await ours.metrics(), /^probe_seconds_bucket\{le="0.01",protocol="postgres",resource="app"\} 5$/m);

    // A reset empties every series, as prom-client's does (its series stay listed with zeros in ours: no observation
    // is lost, the scrape just shows zeros until the next one).
    histogram.reset();
    assert.match(await ours.metrics(), /^probe_seconds_count\{protocol="postgres",resource="app"\} 0$/m);
  });

  it('drops an observation that is not a finite number instead of throwing', async () => {
    const registry = new Registry();
    const series = new SeriesHistogram('probe_seconds', 'A probe', BUCKETS, registry).newSeries({ resource: 'r' });
    series.observe(Number.NaN);
    series.observe(Number.POSITIVE_INFINITY);
    series.observe(0.5);
    assert.match(await registry.metrics(), /^probe_seconds_count\{resource="r"\} 1$/m);
    assert.match(await registry.metrics(), /^probe_seconds_sum\{resource="r"\} 0.5$/m);
  });
});

describe('GatewayMetrics request and decision counts', () => {
  it("reads as prom-client's own counters would have counted them", async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    const reference = new Registry();
    const requests = new Counter({
      name: 'gatehouse_requests_total',
      help: 'x',
      labelNames: ['protocol', 'resource', 'outcome'],
      registers: [reference],
    });
    const counted: ['postgres' | 'http', string, 'ok' | 'error' | 'denied'][] = [
      ['postgres', 'app', 'ok'],
      ['postgres', 'app', 'ok'],
      ['postgres', 'app', 'denied'],
      ['http', 'llm', 'error'],
      ['postgres', 'other', 'ok'],
    ];
    for (const [protocol, resource, outcome] of counted) {
      metrics.countRequest(protocol, resource, outcome);
      requests.inc({ protocol, resource, outcome });
    }
    metrics.countDecision('postgres', 'app', 'allow');
    metrics.countDecision('postgres', 'app', 'allow');
    metrics.countDecision('http', 'llm', 'deny');
    const lines = (text: string, name: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`))
        .sort();
    const scraped = await metrics.registry.metrics();
    assert.deepEqual(
      lines(scraped, 'gatehouse_requests_total'),
      lines(await reference.metrics(), 'gatehouse_requests_total'),
    );
    assert.deepEqual(lines(scraped, 'gatehouse_decisions_total'), [
      'gatehouse_decisions_total{protocol="http",resource="llm",verdict="deny"} 1',
      'gatehouse_decisions_total{protocol="postgres",resource="app",verdict="allow"} 2',
    ]);
    // A second scrape reports the same totals, not a sum of scrapes.
    assert.deepEqual(
      lines(await metrics.registry.metrics(), 'gatehouse_requests_total'),
      lines(scraped, 'gatehouse_requests_total'),
    );
    metrics.observeUpstream('postgres', 'app', 0.003);
    assert.match(
      await metrics.registry.metrics(),
      /^gatehouse_upstream_duration_seconds_count\{protocol="postgres",resource="app"\} 1$/m,
    );
    assert.doesNotMatch(await metrics.registry.metrics(), /gatehouse_upstream_duration_seconds_count\{protocol="http"/);
  });
});
