import type { Logger } from 'pino';
import type { GatewayMetrics } from '../admin/metrics.js';
import type { ApprovalService } from '../approvals/approval-service.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { TokenVerifier } from '../identity/verifier.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Quotas } from '../quotas/quotas.js';
import type { Store } from '../store/store.js';
import type { AgentRegistry } from '../tunnel/agent-registry.js';

/** What every protocol listener is handed: the shared, protocol-neutral machinery. */
export interface GatewayServices {
  readonly config: GatehouseConfig;
  /** Directory the config file lives in; relative paths resolve against it. */
  readonly baseDir: string;
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly store: Store;
  readonly recorder: AuditRecorder;
  /** Just-in-time approval: listeners call `approvals.requestApproval` when policy says `review`. */
  readonly approvals: ApprovalService;
  /** Token and request budgets (`quotas:`); absent in harnesses that run without them. */
  readonly quotas?: Quotas;
  readonly clock: Clock;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Connected agents, when `agents:` is configured (resources with `via: agent` connect through them). */
  readonly agents?: AgentRegistry;
}

/** A protocol's listener: accepts connections on one address and runs sessions until stopped. */
export interface Listener {
  readonly protocol: string;
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  start(): Promise<{ host: string; port: number }>;
  /** Stops accepting, then closes open sessions (recording their end). */
  stop(): Promise<void>;
}
