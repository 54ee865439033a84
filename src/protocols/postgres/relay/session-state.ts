import type { ErrorFields } from '../wire/backend-messages.js';

/**
 * Where a proxy session is in its life:
 * - `relaying`: client messages are decided and forwarded;
 * - `skipping`: after an extended-protocol error, client messages are discarded until the client's Sync, as the
 *   backend does;
 * - `closing`: the session is ending; nothing more is relayed. Terminal.
 */
export type SessionPhase = 'relaying' | 'skipping' | 'closing';

/**
 * What the relay and the statement gate read and change of the session they serve: its phase, through named
 * transitions only. The session owns the one instance; the others get this narrow view.
 */
export interface SessionControl {
  readonly phase: SessionPhase;
  readonly closing: boolean;
  readonly skipping: boolean;
  /** An extended-protocol error with no Sync queued: the client's messages are discarded up to its next Sync. */
  skipUntilSync(): void;
  /** Ends the session, with a FATAL for the client when given; the same promise for every caller. */
  close(reason: string, fatal?: ErrorFields): Promise<void>;
}

/** The proxy session's phase and its transitions (see `SessionPhase`). */
export class SessionState implements SessionControl {
  private current: SessionPhase = 'relaying';
  private ending: Promise<void> | undefined;

  /** @param shutdown runs once, on the first `close`, after the phase is already `closing`. */
  constructor(private readonly shutdown: (reason: string, fatal: ErrorFields | undefined) => Promise<void>) {}

  get phase(): SessionPhase {
    return this.current;
  }

  get closing(): boolean {
    return this.current === 'closing';
  }

  get skipping(): boolean {
    return this.current === 'skipping';
  }

  /** The promise of the session's end, once closing. */
  get ended(): Promise<void> | undefined {
    return this.ending;
  }

  skipUntilSync(): void {
    // Closing is terminal: a late backend error while the session ends changes nothing.
    if (this.current === 'relaying') this.current = 'skipping';
  }

  /** The client's Sync was reached: messages are decided again. */
  synced(): void {
    if (this.current === 'skipping') this.current = 'relaying';
  }

  close(reason: string, fatal?: ErrorFields): Promise<void> {
    if (this.ending === undefined) {
      this.current = 'closing';
      this.ending = this.shutdown(reason, fatal);
    }
    return this.ending;
  }
}
