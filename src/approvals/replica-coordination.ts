import type { Logger } from 'pino';
import type { AccessGrantCache } from './access-grants.js';
import { type InstanceLease, LEASE_MS } from './instance-lease.js';
import type { ReviewFeed } from './review-feed.js';
import type { ReviewWaiters } from './review-waiters.js';

export interface ReplicaCoordinationOptions {
  readonly feed?: ReviewFeed;
  readonly lease?: InstanceLease;
  readonly waiters: ReviewWaiters;
  readonly grants: AccessGrantCache;
  readonly logger: Logger;
  /** Moves a pending review to withdrawn (audited, announced); true when this call did. */
  readonly withdraw: (reviewId: string) => Promise<boolean>;
  /** One full poll (after the feed reconnects: changes made meanwhile were missed). */
  readonly poll: () => Promise<void>;
}

/**
 * What the approval service does because other gateway processes share its store: wakes callers held here when
 * another replica decides (the feed), and withdraws reviews whose holder is gone: this process's own at shutdown,
 * other instances' once their lease lapsed.
 */
export class ReplicaCoordination {
  private orphanTimer: NodeJS.Timeout | undefined;
  private orphanSweep: Promise<void> | undefined;

  constructor(private readonly options: ReplicaCoordinationOptions) {}

  /** Holder to record on a review whose caller waits here (a held PostgreSQL statement). */
  get holder(): string | undefined {
    return this.options.lease?.id;
  }

  async start(): Promise<void> {
    const { lease, feed } = this.options;
    await lease?.start();
    await this.withdrawOrphans();
    await feed?.start({
      changed: (kind, id) => void this.changedElsewhere(kind, id),
      resumed: () => void this.options.poll(),
    });
    if (lease !== undefined) {
      // Orphans are looked for on the lease's time scale, however slow the poll is configured.
      this.orphanTimer = setInterval(() => void this.sweepOrphans(), LEASE_MS / 2);
      this.orphanTimer.unref();
    }
  }

  /** Withdraws the reviews held here (their callers leave with this process), then ends the feed and the lease. */
  async stop(): Promise<void> {
    clearInterval(this.orphanTimer);
    await this.orphanSweep;
    const { lease, feed, logger } = this.options;
    if (lease !== undefined) {
      try {
        for (const id of await lease.heldReviews()) await this.options.withdraw(id);
      } catch (error) {
        logger.error({ err: error }, 'held reviews could not be withdrawn at shutdown; another replica will');
      }
    }
    await feed?.stop();
    await lease?.stop().catch((error: unknown) => logger.warn({ err: error }, 'instance lease could not be ended'));
  }

  /** Withdraws pending reviews whose holder instance stopped or died: their waiting caller is gone. */
  async withdrawOrphans(): Promise<void> {
    const { lease, logger } = this.options;
    if (lease === undefined) return;
    for (const id of await lease.orphanedReviews()) {
      if (await this.options.withdraw(id)) {
        logger.warn({ reviewId: id }, 'review withdrawn: the gateway holding its caller is gone');
      }
    }
  }

  private sweepOrphans(): Promise<void> {
    this.orphanSweep ??= this.withdrawOrphans()
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'orphaned reviews could not be read'))
      .finally(() => {
        this.orphanSweep = undefined;
      });
    return this.orphanSweep;
  }

  /** The feed says review `id` changed on some replica: wake callers waiting on it here; reload access windows. */
  private async changedElsewhere(kind: string, id: string): Promise<void> {
    try {
      await this.options.waiters.wake(id);
      if (kind === 'access') await this.options.grants.refresh();
    } catch (error) {
      this.options.logger.warn({ err: error, reviewId: id }, 'review change could not be read; the poll will');
    }
  }
}
