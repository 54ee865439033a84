import type { BackendWriter } from './backend-writer.js';
import type { PendingResponses } from './pending-responses.js';

/**
 * Waits for nothing to be in flight on the backend connection, so the gateway's own Query (an EXPLAIN, see
 * plan-probe.ts) can go next without landing inside the client's pipeline.
 */
export class BackendIdle {
  private waiters: (() => void)[] = [];

  constructor(
    private readonly toBackend: BackendWriter,
    private readonly pending: PendingResponses,
    private readonly closing: () => boolean,
  ) {}

  /**
   * True once every forwarded message is answered; false when the session is closing or no ReadyForQuery is coming
   * (extended messages waiting for a Sync the client has not sent).
   */
  async wait(): Promise<boolean> {
    await this.toBackend.flush();
    while (this.pending.size > 0) {
      if (this.closing() || !this.pending.awaitsReadyForQuery()) return false;
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
    return !this.closing();
  }

  /** A ReadyForQuery was relayed, or the session is closing: waiters look again. */
  wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
