import type { GatehouseError } from '../../../core/errors.js';
import { MaskCounts } from '../../../masking/counts.js';
import type { OperationHandle, OperationResult } from '../../../session/session.js';

/**
 * One allowed operation while the backend runs it: counts the DataRow messages and the bytes relayed to the client,
 * remembers the first error, and records the result once.
 */
export class StatementRun {
  rows = 0;
  bytesOut = 0;
  /** What masking replaced in this statement's result, by type. */
  readonly counts = new MaskCounts();
  /** Rows already kept for the audit capture. */
  capturedRows = 0;
  /** The portal an Execute ran (its rows may come without a RowDescription). */
  portal: string | undefined;
  private error: string | undefined;
  private finished = false;

  constructor(
    readonly handle: OperationHandle,
    /** Called with the result record's promise, so the session can wait for it before it ends. */
    private readonly track: (done: Promise<void>) => void,
  ) {}

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** Notes an ErrorResponse: SQLSTATE and primary message only (detail may hold row values). */
  fail(sqlstate: string | undefined, message: string | undefined): void {
    this.error ??= `${sqlstate ?? '?????'}: ${(message ?? '').slice(0, 200)}`;
  }

  /** Records the result after the backend completed the statement. */
  complete(): void {
    this.finish(
      this.error === undefined
        ? { outcome: 'ok', rows: this.rows, bytesOut: this.bytesOut }
        : { outcome: 'error', rows: this.rows, bytesOut: this.bytesOut, error: this.error },
    );
  }

  /** The backend never ran it (an earlier message in the batch failed) or the connection went away first. */
  abandon(reason: string): void {
    this.finish({ outcome: 'error', rows: this.rows, bytesOut: this.bytesOut, error: reason });
  }

  private finish(result: OperationResult): void {
    if (this.finished) return;
    this.finished = true;
    // The rows already went out and nothing waits on this record: let it share the next statement's transaction.
    const recorded = this.counts.empty ? result : { ...result, masked: this.counts.toRecord() };
    this.track(this.handle.finish(recorded, { defer: true }));
  }
}

/** Records a refused operation's result: it never reached the backend. */
export function recordRefusal(
  handle: OperationHandle,
  refusal: GatehouseError,
  track: (done: Promise<void>) => void,
): void {
  track(handle.finish({ outcome: 'refused', error: refusal.code }));
}
