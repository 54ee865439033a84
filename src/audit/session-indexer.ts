import type { Logger } from 'pino';
import { CATCH_UP_BATCH } from '../store/session-event-index.js';
import type { Store } from '../store/store.js';

export interface SessionIndexerOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
}

/**
 * Keeps the store's session index close behind the log (see store/session-event-index.ts): a catch-up at start (a
 * crash may have left a long tail) and every interval, so readers' unindexed tail stays short. A catch-up does at
 * most one batch, which blocks the event loop for a few milliseconds; a full batch means more is waiting, and the
 * next follows on the next turn of the event loop rather than an interval later. Failures are logged and retried
 * next time: reads stay right without the index, only slower.
 */
export class SessionIndexer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;

  constructor(
    private readonly store: Store,
    private readonly options: SessionIndexerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.catchUp(), this.options.intervalMs);
    this.timer.unref();
    setImmediate(() => void this.catchUp());
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async catchUp(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    let more = false;
    try {
      more = (await this.store.indexSessionEvents()) >= CATCH_UP_BATCH;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'session index catch-up failed; retrying at the next interval');
    } finally {
      this.running = false;
    }
    if (more) setImmediate(() => void this.catchUp());
  }
}
