import type { Duplex } from 'node:stream';
import type { ClassifiedStatement } from '../sql/sql-ast.js';

/**
 * A statement whose only effects are what its kind and action say: no risk tag, no function call (a function may
 * write), no SQL PREPARE or EXECUTE (whose statement is another's). What the overlap rules below start from.
 */
function plain(s: ClassifiedStatement): boolean {
  return s.tags.length === 0 && s.callsFunctions !== true && s.executes === undefined && s.prepares === undefined;
}

function plainRead(s: ClassifiedStatement): boolean {
  return s.kind === 'read' && s.action === 'SELECT' && plain(s);
}

/**
 * Whether these statements may run while their audit record is written (`audit.overlapReads`): plain SELECTs. Their
 * only effect is the result, which the session's `RecordGate` holds until the record is durable.
 */
export function mayOverlapRecord(statements: readonly ClassifiedStatement[]): boolean {
  return statements.length > 0 && statements.every(plainRead);
}

/** The writes a transaction block keeps to itself until it commits (see `mayOverlapInTransaction`). */
const TRANSACTIONAL_DML: ReadonlySet<string> = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * Whether these statements may run while their audit record is written, sent inside a transaction block the client
 * opened (`audit.overlapTransactionWrites`): plain SELECT, INSERT, UPDATE, DELETE and MERGE. Nothing they change is
 * committed or seen by anyone else before COMMIT, and COMMIT waits for its own record, which is durable only once
 * every record before it is (the recorder writes in order). If a record fails, the session ends and the backend
 * rolls the transaction back: the statement ran, but took no effect. Its answer, like an overlapped read's, waits for
 * the record. Not covered, as a statement does not show them: what a trigger does outside the database, and sequence
 * values, which a rollback does not return.
 */
export function mayOverlapInTransaction(statements: readonly ClassifiedStatement[]): boolean {
  return (
    statements.length > 0 &&
    statements.every((s) => plainRead(s) || (s.kind === 'write' && TRANSACTIONAL_DML.has(s.action) && plain(s)))
  );
}

/** What opens a transaction block and nothing more (`BEGIN READ WRITE` is classified a write, and is not this). */
const OPENS_BLOCK: ReadonlySet<string> = new Set(['BEGIN', 'START TRANSACTION']);

/**
 * Whether this message only opens a transaction block (`BEGIN`, `START TRANSACTION`), which may then run while its
 * record is written (`audit.overlapTransactionWrites`), whatever the session's state: opening a block changes no
 * data, and its answer waits for the record like any overlapped statement's, so nothing after it is even sent before
 * its record is durable. Without this, a one-client transaction paid a record's wait for its BEGIN too.
 */
export function onlyOpensTransaction(statements: readonly ClassifiedStatement[]): boolean {
  const [statement] = statements;
  return (
    statements.length === 1 &&
    statement !== undefined &&
    statement.kind === 'session' &&
    OPENS_BLOCK.has(statement.action) &&
    plain(statement)
  );
}

/**
 * Holds a session's backend answers while the newest overlapped statement's record is not durable yet, so nothing of
 * its result leaves before its record: the relay reads, masks and records them meanwhile but keeps their output
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
