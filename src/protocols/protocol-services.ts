import type { Logger } from 'pino';
// The contract sits in protocols/, not core/: it names the concrete services (store, recorder, approvals...), and
// core/ stays free of imports so every folder may depend on it.
import type { ApprovalService } from '../approvals/approval-service.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Metrics } from '../core/metrics.js';
import type { TokenVerifier } from '../identity/verifier.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Quotas } from '../quotas/quotas.js';
import type { Store } from '../store/store.js';

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
  readonly metrics: Metrics;
  readonly logger: Logger;
}
