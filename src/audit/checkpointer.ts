import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { SignedCheckpoint, Store } from '../store/store.js';
import type { CheckpointSigner } from './checkpoint.js';

export interface AuditCheckpointerOptions {
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Signs the chain head periodically, at shutdown and on demand (before pruning). A signed checkpoint makes every
 * event up to it tamper-evident even against someone who rewrites the whole chain with fresh hashes, and lets
 * `audit verify` notice events deleted from the end.
 */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private lastEventId = 0;
  private running: Promise<SignedCheckpoint | undefined> = Promise.resolve(undefined);

  constructor(
    private readonly store: Store,
    private readonly signer: CheckpointSigner,
    private readonly options: AuditCheckpointerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.checkpoint('periodic').catch((error: unknown) =>
        this.options.logger.error({ err: error }, 'audit checkpoint failed'),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Signs and stores the current head, unless it was already signed. One at a time. */
  checkpoint(reason: string): Promise<SignedCheckpoint | undefined> {
    const run = this.running.catch(() => undefined).then(() => this.write(reason));
    this.running = run;
    return run;
  }

  /** Stops the timer and writes a last checkpoint; call after the recorder has flushed. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checkpoint('shutdown');
  }

  private async write(reason: string): Promise<SignedCheckpoint | undefined> {
    const head = await this.store.chainHead();
    if (!head || head.id === this.lastEventId) return undefined;
    const signed = this.signer.sign({ eventId: head.id, hash: head.hash, at: this.options.clock.now(), reason });
    await this.store.appendCheckpoint(signed);
    this.lastEventId = head.id;
    return signed;
  }
}
