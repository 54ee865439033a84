import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RecorderCounts } from '../audit/recorder.js';

/** The SQL classifier's running totals, by how each message was classified. */
export type SqlClassifierSource = () => { readonly exact: number; readonly shape: number; readonly parsed: number };

/** The gateway's Prometheus metrics, on their own registry so tests and several gateways in one process do not clash. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests and statements handled, by protocol, resource and outcome',
    labelNames: ['protocol', 'resource', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'gatehouse_decisions_total',
    help: 'Policy decisions, by protocol, resource and verdict',
    labelNames: ['protocol', 'resource', 'verdict'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'gatehouse_auth_failures_total',
    help: 'Rejected credentials, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  readonly upstreamSeconds = new Histogram({
    name: 'gatehouse_upstream_duration_seconds',
    help: 'Time until the backend answered (response headers for HTTP, completion for SQL)',
    labelNames: ['protocol', 'resource'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly activeSessions = new Gauge({
    name: 'gatehouse_active_sessions',
    help: 'Open sessions, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });

  /** Where `gatehouse_sql_classifications_total` is read from (see `watchSqlClassifier`). */
  private sqlClassifier: SqlClassifierSource | undefined;

  constructor(options: { defaultMetrics?: boolean; audit?: AuditSource } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    if (options.audit) this.watchAudit(options.audit);
    this.registerSqlClassifications();
  }

  /**
   * The PostgreSQL listener's classifier, read at each scrape. Handed in by the listener that owns it, so admin/
   * does not import a protocol; a later listener's classifier replaces an earlier one's.
   */
  watchSqlClassifier(read: SqlClassifierSource): void {
    this.sqlClassifier = read;
  }

  private registerSqlClassifications(): void {
    const metrics = this;
    new Counter({
      name: 'gatehouse_sql_classifications_total',
      help: 'SQL messages classified since the process started, by how: exact (same text cached), shape (same text but its constants cached), parsed',
      labelNames: ['source'] as const,
      registers: [this.registry],
      collect() {
        const counts = metrics.sqlClassifier?.();
        this.reset();
        if (counts === undefined) return;
        for (const source of ['exact', 'shape', 'parsed'] as const) this.inc({ source }, counts[source]);
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
