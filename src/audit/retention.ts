import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { PruneResult, Store } from '../store/store.js';
import { verifyChain } from './chain-verifier.js';
import { type CheckpointSigner, keyRing } from './checkpoint.js';
import type { AuditCheckpointer } from './checkpointer.js';

export interface AuditRetentionOptions {
  readonly maxAgeMs: number;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Continuous-export sinks: nothing they have not acknowledged is pruned (at-least-once delivery). */
  readonly exportSinks?: readonly string[];
}

export interface PruneOutcome extends PruneResult {
  /** The last position pruned (of the last chain pruned, when several were). */
  readonly throughId: number;
}

/**
 * Prunes sessions older than the retention age, chain by chain, without breaking verification: the kept part of
 * each chain is anchored by a signed checkpoint of its last pruned event. Before signing that anchor, the part about to go is
 * verified, so a tampered history is never laundered into a valid-looking signature.
 */
export class AuditRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PruneOutcome | undefined> | undefined;

  constructor(
    private readonly store: Store,
    private readonly signer: CheckpointSigner,
    private readonly checkpointer: AuditCheckpointer,
    private readonly options: AuditRetentionOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.pruneOnce().catch((error: unknown) =>
        this.options.logger.error({ err: error }, 'audit retention failed; nothing was pruned'),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  pruneOnce(): Promise<PruneOutcome | undefined> {
    this.running ??= this.prune().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async prune(): Promise<PruneOutcome | undefined> {
    // Checkpoint this instance's head first: its chain as it stands is signed before anything is removed.
    await this.checkpointer.checkpoint('pre-prune');
    let total: PruneOutcome | undefined;
    // Every chain, not only this instance's: chains of replicas that are gone would otherwise be kept for ever.
    for (const chain of await this.store.listChains()) {
      const outcome = await this.pruneChain(chain);
      if (outcome) {
        total = {
          throughId: outcome.throughId,
          events: (total?.events ?? 0) + outcome.events,
          sessions: (total?.sessions ?? 0) + outcome.sessions,
        };
      }
    }
    return total;
  }

  private async pruneChain(chain: string): Promise<PruneOutcome | undefined> {
    const { store, options } = this;
    let through = await store.retentionBoundary(chain, options.clock.now() - options.maxAgeMs);
    for (const sink of options.exportSinks ?? []) {
      through = Math.min(through, (await store.exportCursors(sink)).get(chain) ?? 0);
    }
    if (through <= 0) return undefined;
    const check = await verifyChain(store, chain, { keys: keyRing([this.signer.publicKey]), untilId: through });
    if (!check.ok) {
      options.logger.error(
        { chain, problem: check.problem },
        'audit chain does not verify; retention will not prune it',
      );
      return undefined;
    }
    const [last] = await store.readChain(chain, through - 1, 1);
    if (!last || last.seq !== through) return undefined;
    const anchor = this.signer.sign({
      chain,
      eventId: last.seq,
      hash: last.hash,
      at: options.clock.now(),
      reason: 'prune',
    });
    const result = await store.prune(through, anchor);
    options.logger.info({ chain, throughId: through, ...result }, 'audit retention pruned old sessions');
    return { throughId: through, ...result };
  }
}
