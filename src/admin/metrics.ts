import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { classifierCounts } from '../protocols/postgres/classify.js';

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

  /** Read from the classifier at each scrape: its caches are the process's, shared by every listener. */
  readonly sqlClassifications = new Counter({
    name: 'gatehouse_sql_classifications_total',
    help: 'SQL messages classified since the process started, by how: exact (same text cached), shape (same text but its constants cached), parsed',
    labelNames: ['source'] as const,
    registers: [this.registry],
    collect() {
      const counts = classifierCounts();
      this.reset();
      for (const source of ['exact', 'shape', 'parsed'] as const) this.inc({ source }, counts[source]);
    },
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }
}
