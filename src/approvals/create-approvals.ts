import type { Logger } from 'pino';
import type { AuditRecorder } from '../audit/recorder.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { PolicyEngine } from '../policy/engine.js';
import type { Store } from '../store/store.js';
import { AccessGrantCache } from './access-grants.js';
import { ApprovalService } from './approval-service.js';
import { InstanceLease } from './instance-lease.js';
import { PostgresReviewFeed } from './review-feed.js';
import { ReviewStore } from './review-store.js';

/**
 * Builds the policy engine and the approval service around one access-grant cache: approved access windows become
 * grants the engine consults, and the service refreshes the cache when windows open or end.
 */
export function createApprovals(parts: {
  readonly config: GatehouseConfig;
  readonly store: Store;
  readonly recorder: AuditRecorder;
  readonly clock: Clock;
  readonly logger: Logger;
}): { policy: PolicyEngine; approvals: ApprovalService } {
  const { config, store, recorder, clock, logger } = parts;
  const grants = new AccessGrantCache(new ReviewStore(store), clock);
  const feed =
    'postgres' in config.store && store.dialect === 'postgres'
      ? new PostgresReviewFeed(config.store.postgres.url, logger.child({ component: 'review-feed' }))
      : undefined;
  const policy = new PolicyEngine(config.resources, { grants, clock });
  const approvals = new ApprovalService({
    store,
    recorder,
    policy,
    grants,
    resources: config.resources,
    config: config.approvals,
    clock,
    logger,
    ...(feed === undefined ? {} : { feed }),
    lease: new InstanceLease(store, clock, () => recorder.counts.refused),
  });
  return { policy, approvals };
}
