import type { Metric, Registry } from 'prom-client';

/** One labelled series of a `SeriesHistogram`: its owner keeps it and observes into it directly. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative), the last slot for those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // Not finite: dropped rather than thrown (a metric never fails the request it measures).
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += value;
    this.count++;
  }
}

/** One exposed value, in the shape prom-client's registry reads from its own metrics. */
interface Value {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels?: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
}

interface Exposed {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: Value[];
}

/**
 * A Prometheus histogram whose series are objects the caller keeps, exposed in prom-client's registry like its own.
 * Hand-written because prom-client's `observe` (even on a `labels()` child) validates and hashes the label object on
 * every call, a cost each PostgreSQL statement paid; here a series is found once and an observation is a bucket
 * search and three additions. The exposition is prom-client's: the registry formats what `get` returns.
 */
export class SeriesHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    // The registry reads any object with the members prom-client's own metrics have (name, help, type, get).
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series with these labels (the caller keeps it: asking twice for one label set makes two series). */
  newSeries(labels: Readonly<Record<string, string>>): HistogramSeries {
    const series = new HistogramSeries(this.buckets, labels);
    this.series.push(series);
    return series;
  }

  /** As prom-client's histograms: buckets cumulative with `le` first, then `+Inf`, `_sum` and `_count`. */
  getForPromString(): Promise<Exposed> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.series) {
      const sharedLabels = series.labels;
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += series.counts[i] as number;
        values.push({ labels: { le: this.buckets[i] as number }, sharedLabels, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels, value: series.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** The JSON form (`registry.getMetricsAsJSON`): each value's labels with the series' labels merged in. */
  async get(): Promise<Exposed> {
    const data = await this.getForPromString();
    const values = data.values.map(({ sharedLabels, ...value }) => ({
      ...value,
      labels: { ...value.labels, ...sharedLabels },
    }));
    return { ...data, values };
  }

  reset(): void {
    for (const series of this.series) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
