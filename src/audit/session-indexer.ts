import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

export interface SessionIndexerOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
}

/**
 * Keeps the store's session index close behind the log (see store/session-event-index.ts): a catch-up every
 * interval, so readers' unindexed tail stays a few seconds long. Failures are logged and retried next time: reads
 * stay right without the index, only slower.
 */
export class SessionIndexer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly options: SessionIndexerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.catchUp(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async catchUp(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.store.indexSessionEvents();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'session index catch-up failed; retrying at the next interval');
    } finally {
      this.running = false;
    }
  }
}
