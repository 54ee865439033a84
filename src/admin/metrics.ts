import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RecorderCounts } from '../audit/recorder.js';
import type { Verdict } from '../core/decision.js';
import type { Metrics, RequestOutcome, ScrapedCounter } from '../core/metrics.js';
import type { ProtocolName } from '../core/operation.js';

/** A labelled series, kept so a statement's count is one map lookup rather than prom-client's label hashing. */
interface Incrementable {
  inc(value?: number): void;
}
interface Observable {
  observe(value: number): void;
}

/**
 * The gateway's Prometheus metrics (the `Metrics` contract of core/), on their own registry so tests and several
 * gateways in one process do not clash.
 */
export class GatewayMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests and statements handled, by protocol, resource and outcome (ok, error, denied, review, unauthenticated)',
    labelNames: ['protocol', 'resource', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly decisions = new Counter({
    name: 'gatehouse_decisions_total',
    help: 'Policy decisions, by protocol, resource and verdict',
    labelNames: ['protocol', 'resource', 'verdict'] as const,
    registers: [this.registry],
  });
  private readonly authFailures = new Counter({
    name: 'gatehouse_auth_failures_total',
    help: 'Rejected credentials, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly upstreamSeconds = new Histogram({
    name: 'gatehouse_upstream_duration_seconds',
    help: 'Time until the backend answered (response headers for HTTP, completion for SQL)',
    labelNames: ['protocol', 'resource'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly activeSessions = new Gauge({
    name: 'gatehouse_active_sessions',
    help: 'Open sessions, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly counterSeries = new Map<string, Incrementable>();
  private readonly histogramSeries = new Map<string, Observable>();

  constructor(options: { defaultMetrics?: boolean; audit?: AuditSource } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    if (options.audit) this.watchAudit(options.audit);
  }

  countDecision(protocol: ProtocolName, resource: string, verdict: Verdict): void {
    this.counter(this.decisions, protocol, resource, 'verdict', verdict).inc();
  }

  countRequest(protocol: ProtocolName, resource: string, outcome: RequestOutcome): void {
    this.counter(this.requests, protocol, resource, 'outcome', outcome).inc();
  }

  countAuthFailure(protocol: ProtocolName): void {
    this.authFailures.inc({ protocol });
  }

  observeUpstream(protocol: ProtocolName, resource: string, seconds: number): void {
    const key = `${protocol}\0${resource}`;
    let series = this.histogramSeries.get(key);
    if (series === undefined) {
      series = this.upstreamSeconds.labels({ protocol, resource });
      this.histogramSeries.set(key, series);
    }
    series.observe(seconds);
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

  private counter<L extends 'verdict' | 'outcome'>(
    metric: Counter<'protocol' | 'resource' | L>,
    protocol: ProtocolName,
    resource: string,
    name: L,
    value: string,
  ): Incrementable {
    const key = `${name}\0${protocol}\0${resource}\0${value}`;
    let series = this.counterSeries.get(key);
    if (series === undefined) {
      series = metric.labels({ protocol, resource, [name]: value } as Record<'protocol' | 'resource' | L, string>);
      this.counterSeries.set(key, series);
    }
    return series;
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
