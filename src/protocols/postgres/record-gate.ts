import type { Duplex } from 'node:stream';
import type { ClassifiedStatement } from './sql-ast.js';

/**
 * Whether these statements may run while their audit record is written (`audit.overlapReads`): plain SELECTs with no
 * function call (a function may write) and no risk tag. Their only effect is the result, which the session's
 * `RecordGate` holds until the record is durable.
 */
export function mayOverlapRecord(statements: readonly ClassifiedStatement[]): boolean {
  return (
    statements.length > 0 &&
    statements.every(
      (s) =>
        s.kind === 'read' &&
        s.action === 'SELECT' &&
        s.tags.length === 0 &&
        s.callsFunctions !== true &&
        s.executes === undefined &&
        s.prepares === undefined,
    )
  );
}

/**
 * Holds a session's backend answers while the newest overlapped read's record is not durable yet, so nothing of that
 * read's result leaves before its record: the relay reads, masks and records them meanwhile but keeps their output
 * (up to a bound; past it they wait in the frame reader, the backend socket paused). Records are made durable in
 * order, so the newest settling opens the gate for everything before it.
 */
export class RecordGate {
  private waitingFor: Promise<void> | undefined;
  private paused = false;

  constructor(
    private readonly backend: Duplex,
    private readonly events: {
      /** The record is durable: relay what waited. */
      readonly opened: () => void;
      /** The record failed: end the session without relaying anything more. */
      readonly failed: (error: unknown) => void;
      /** The session is closing: nothing is relayed any more. */
      readonly closing: () => boolean;
    },
  ) {}

  /** True while backend answers must wait. */
  get shut(): boolean {
    return this.waitingFor !== undefined;
  }

  /** Holds backend answers until `durable` resolves. */
  waitFor(durable: Promise<void>): void {
    this.waitingFor = durable;
    durable.then(
      () => {
        if (this.waitingFor !== durable || this.events.closing()) return;
        this.waitingFor = undefined;
        if (this.paused) {
          this.paused = false;
          this.backend.resume();
        }
        this.events.opened();
      },
      // Fail closed: the read may have run, but none of its result leaves without its record. The gate stays shut.
      (error: unknown) => this.events.failed(error),
    );
  }

  /** Held output is full while shut: stop reading more until the gate opens. */
  hold(): void {
    if (this.backend.isPaused()) return;
    this.backend.pause();
    this.paused = true;
  }
}
