import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RecorderCounts } from '../audit/recorder.js';
import type { Verdict } from '../core/decision.js';
import type { Metrics, RequestOutcome, ScrapedCounter } from '../core/metrics.js';
import type { ProtocolName } from '../core/operation.js';
import { type HistogramSeries, SeriesHistogram } from './series-histogram.js';

/**
 * What one protocol and resource counted: plain numbers bumped on the hot path, read into the Prometheus metrics at
 * each scrape (prom-client's own `inc` and `observe` validate and hash a label object on every call).
 */
interface ResourceSeries {
  /** By verdict. */
  readonly decisions: Record<string, number>;
  /** By outcome. */
  readonly requests: Record<string, number>;
  /** Made at the first observation, so a resource never reached has no series (as with prom-client's own). */
  upstream: HistogramSeries | undefined;
}

/**
 * The gateway's Prometheus metrics (the `Metrics` contract of core/), on their own registry so tests and several
 * gateways in one process do not clash.
 */
export class GatewayMetrics implements Metrics {
  readonly registry = new Registry();
  /** Protocol, then resource: two lookups of strings the caller already has, no key built per call. */
  private readonly series = new Map<ProtocolName, Map<string, ResourceSeries>>();
  private readonly authFailures = new Counter({
    name: 'gatehouse_auth_failures_total',
    help: 'Rejected credentials, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly upstreamSeconds = new SeriesHistogram(
    'gatehouse_upstream_duration_seconds',
    'Time until the backend answered (response headers for HTTP, completion for SQL)',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    this.registry,
  );
  private readonly activeSessions = new Gauge({
    name: 'gatehouse_active_sessions',
    help: 'Open sessions, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean; audit?: AuditSource } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    this.scrapedSeries(
      'gatehouse_requests_total',
      'Requests and statements handled, by protocol, resource and outcome (ok, error, denied, review, unauthenticated)',
      'outcome',
      (series) => series.requests,
    );
    this.scrapedSeries(
      'gatehouse_decisions_total',
      'Policy decisions, by protocol, resource and verdict',
      'verdict',
      (series) => series.decisions,
    );
    if (options.audit) this.watchAudit(options.audit);
  }

  countDecision(protocol: ProtocolName, resource: string, verdict: Verdict): void {
    const decisions = this.seriesOf(protocol, resource).decisions;
    decisions[verdict] = (decisions[verdict] ?? 0) + 1;
  }

  countRequest(protocol: ProtocolName, resource: string, outcome: RequestOutcome): void {
    const requests = this.seriesOf(protocol, resource).requests;
    requests[outcome] = (requests[outcome] ?? 0) + 1;
  }

  countAuthFailure(protocol: ProtocolName): void {
    this.authFailures.inc({ protocol });
  }

  observeUpstream(protocol: ProtocolName, resource: string, seconds: number): void {
    const series = this.seriesOf(protocol, resource);
    series.upstream ??= this.upstreamSeconds.newSeries({ protocol, resource });
    series.upstream.observe(seconds);
  }

  sessionOpened(protocol: ProtocolName): void {
    this.activeSessions.inc({ protocol });
  }

  sessionClosed(protocol: ProtocolName): void {
    this.activeSessions.dec({ protocol });
  }

  /** Read at each scrape: the owner (the SQL classifier, say) keeps plain numbers and registers itself here. */
  registerCounter(counter: ScrapedCounter): void {
    if (this.registry.getSingleMetric(counter.name) !== undefined) return;
    new Counter({
      name: counter.name,
      help: counter.help,
      labelNames: [counter.label],
      registers: [this.registry],
      collect() {
        const totals = counter.read();
        this.reset();
        for (const [value, total] of Object.entries(totals)) this.inc({ [counter.label]: value }, total);
      },
    });
  }

  private seriesOf(protocol: ProtocolName, resource: string): ResourceSeries {
    let byResource = this.series.get(protocol);
    if (byResource === undefined) {
      byResource = new Map();
      this.series.set(protocol, byResource);
    }
    let series = byResource.get(resource);
    if (series === undefined) {
      series = { decisions: Object.create(null), requests: Object.create(null), upstream: undefined };
      byResource.set(resource, series);
    }
    return series;
  }

  /** A counter by protocol, resource and `label`, set at each scrape from the totals `pick` reads off each series. */
  private scrapedSeries(
    name: string,
    help: string,
    label: 'outcome' | 'verdict',
    pick: (series: ResourceSeries) => Readonly<Record<string, number>>,
  ): void {
    const all = this.series;
    new Counter({
      name,
      help,
      labelNames: ['protocol', 'resource', label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [protocol, byResource] of all)
          for (const [resource, series] of byResource)
            for (const [value, total] of Object.entries(pick(series)))
              this.inc({ protocol, resource, [label]: value }, total);
      },
    });
  }

  /**
   * The audit recorder's counts and the spool's backlog, read at each scrape: the recorder keeps plain numbers, so
   * the path every operation takes pays no metrics call.
   */
  private watchAudit(audit: AuditSource): void {
    const registers = [this.registry];
    const counter = (name: string, help: string, read: (counts: RecorderCounts) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(audit.counts));
        },
      });
    counter('gatehouse_audit_events_total', 'Audit events made durable', (c) => c.events);
    counter(
      'gatehouse_audit_writes_total',
      'Audit writes (group commits) that made them durable; events over writes is the mean batch',
      (c) => c.writes,
    );
    counter(
      'gatehouse_audit_refused_events_total',
      'Audit events whose write failed: their operations were refused or their results withheld',
      (c) => c.refused,
    );
    new Gauge({
      name: 'gatehouse_audit_spool_backlog_bytes',
      help: 'Recorded events spooled but not yet moved into the audit log; new events are refused past 64 MiB',
      registers,
      collect() {
        this.set(audit.spoolBacklogBytes() ?? 0);
      },
    });
  }
}

/** Where the audit metrics are read from (see `GatewayMetrics.watchAudit`). */
export interface AuditSource {
  readonly counts: RecorderCounts;
  /** undefined when the store records without a spool. */
  spoolBacklogBytes(): number | undefined;
}
