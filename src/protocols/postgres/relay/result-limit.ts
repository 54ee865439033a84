import { serialize } from 'pg-protocol';
import type { Decision, ResultLimits } from '../../../core/decision.js';
import { GatehouseError } from '../../../core/errors.js';
import type { OperationKind } from '../../../core/operation.js';
import { encodeErrorResponse, encodeReadyForQuery } from '../wire/backend-messages.js';
import type { Frame } from '../wire/frame-reader.js';
import { BACKEND, type TransactionStatus } from '../wire/message-codes.js';
import type { BackendWriter } from './backend-writer.js';
import type { PendingResponses } from './pending-responses.js';
import { PlanProbe } from './plan-probe.js';
import type { SessionControl } from './session-state.js';
import type { StatementRun } from './statement-run.js';

/** program_limit_exceeded: what the server itself raises for a statement too big to handle. */
const RESULT_CUT_SQLSTATE = '54000';

/**
 * Fails the client's transaction block after a cut statement the backend completed anyway: the client was told the
 * statement failed, so a COMMIT must not keep its effects. The operator is schema-qualified so that no function or
 * operator the caller created on its search_path can make it succeed.
 */
const ABORT_BLOCK_SQL = 'SELECT 1 OPERATOR(pg_catalog./) 0 AS gatehouse_result_cut';

/**
 * Sent before the client's Sync after a change under result limits was cut but completed: a Parse that fails, so the
 * backend itself fails the implicit transaction (rolled back at the Sync) or the block ('E'). Named, so it leaves the
 * client's unnamed statement alone; a Parse that fails creates nothing.
 */
const FAIL_BEFORE_SYNC = serialize.parse({ name: 'gatehouse_result_cut', text: 'GATEHOUSE RESULT CUT' });

/** Portals whose counts are kept at most (see `ResultLimiter.portals`). */
const REMEMBERED_PORTALS = 4096;

/** How the cut statement ended on the backend, by the message that ended it, for its record. */
const CUT_STATEMENT_ENDS: Readonly<Record<number, string>> = Object.assign(Object.create(null), {
  [BACKEND.CommandComplete]: '; the backend completed the statement',
  [BACKEND.PortalSuspended]: '; the backend completed the statement',
  [BACKEND.ErrorResponse]: '; the backend statement was stopped',
});

/** The rule fields behind each limit, for the client's error and the record. */
const LIMIT_NAMES: Readonly<Record<keyof ResultLimits, string>> = Object.assign(Object.create(null), {
  rows: 'maxResultRows',
  bytes: 'maxResultBytes',
  sessionRows: 'maxSessionResultRows',
  sessionBytes: 'maxSessionResultBytes',
} satisfies Record<keyof ResultLimits, string>);

/**
 * A statement that changes something, sent behind one whose result may be cut, in the same simple Query or
 * extended-protocol batch: refused for a caller under result limits. A cut cannot stop what the backend already
 * ran (a small result is complete before the gateway reads it), and the client, told the earlier statement failed,
 * would take the later one for not run. Reads behind it are harmless: their answers are withheld.
 */
export function refusalBehindLimited(
  decision: Decision,
  statements: readonly { readonly kind: OperationKind }[],
  limitedBefore: boolean,
): GatehouseError | undefined {
  // The common case first: no limit here or before, nothing to look at (checked on every statement).
  if (!limitedBefore && decision.resultLimits === undefined) return undefined;
  const changes = (statement: { readonly kind: OperationKind }) => statement.kind !== 'read';
  const refused = limitedBefore ? statements.some(changes) : statements.slice(1).some(changes);
  if (!refused) return undefined;
  return new GatehouseError(
    'policy.denied',
    'gatehouse: a result limit applies, so a statement that changes anything may not follow another one in the same message or pipelined batch; send it on its own',
    { details: { rule: decision.rule.id } },
  );
}

export interface ResultLimiterHost {
  readonly toBackend: BackendWriter;
  readonly pending: PendingResponses;
  /** Sends the backend a CancelRequest; resolves once the server has handled it (closed the cancel connection). */
  cancel(): Promise<void>;
}

/**
 * `maxResultRows` / `maxResultBytes` (per statement) and `maxSessionResultRows` / `maxSessionResultBytes` on the
 * PostgreSQL path. Rows are DataRow and COPY TO STDOUT CopyData messages, bytes their sizes. The message that would
 * cross a limit is not relayed: the client gets an ErrorResponse (54000) in its place, the rows already sent stay
 * sent, and the backend's statement is cancelled when it is still running. Until the next ReadyForQuery every
 * answer is read for the session's bookkeeping and none reaches the client (it saw its statement fail, and expects
 * nothing else of the message or batch). Inside a transaction block the backend's transaction is then failed, as
 * the client's is: a COMMIT after the cut does not keep the statement's effects.
 */
export class ResultLimiter {
  private sessionRows = 0;
  private sessionBytes = 0;
  /** The statement cut, until the ReadyForQuery that ends the client's message or batch. */
  private cutRun: StatementRun | undefined;
  private cancelSent = false;
  /** What became of the cut statement on the backend is in its record. */
  private cutSettled = false;
  /**
   * The Execute of a change under result limits in the batch still open: the client's Sync waits for its answer,
   * so that a cut one's effects are rolled back with its transaction (see `beforeSync`).
   */
  private guarded: StatementRun | undefined;
  /** The guarded statement was cut and the backend completed it: its transaction must fail before the Sync. */
  private guardedCompleted = false;
  /** The CancelRequest in flight: no client message goes to the backend before it is handled (see `settled`). */
  private cancelling: Promise<void> | undefined;

  /**
   * The last Execute of each portal since its Bind: an Execute that resumes a suspended portal (an Execute row
   * count, as JDBC's fetch size) counts on from where the last one stopped, or fetching in pieces would escape the
   * per-statement limit.
   */
  private readonly portals = new Map<string, StatementRun['resultCounts']>();

  constructor(private readonly host: ResultLimiterHost) {}

  /** A Bind of `portal`: a new portal, counted from nothing. */
  bound(portal: string): void {
    this.portals.delete(portal);
  }

  /** An Execute of `run.portal`: its rows count on from the portal's last Execute. */
  resume(run: StatementRun): void {
    const portal = run.portal;
    if (portal === undefined) return;
    const counts = this.portals.get(portal);
    if (counts !== undefined) {
      run.resultCounts = counts;
      return;
    }
    // The client picks the names: past this many, the counts of portals bound earlier are forgotten (a portal kept
    // suspended behind that many others counts from nothing again; the session's limits still hold).
    if (this.portals.size >= REMEMBERED_PORTALS) this.portals.clear();
    this.portals.set(portal, run.resultCounts);
  }

  /** An extended-protocol Execute of a statement that changes something, under result limits, was forwarded. */
  guard(run: StatementRun): void {
    this.guarded = run;
    this.guardedCompleted = false;
  }

  /**
   * Before the client's Sync goes to the backend. Behind a guarded Execute still unanswered, the backend is asked to
   * flush its answers (a Sync would commit) and the Sync waits for them; if that statement was cut but completed,
   * a failing Parse goes first, so the backend rolls back its implicit transaction (or fails the block) as it would
   * had the statement itself failed.
   */
  beforeSync(): Promise<void> | undefined {
    const run = this.guarded;
    if (run === undefined) return undefined;
    if (run.ended) {
      this.failIfCut();
      return undefined;
    }
    const ended = new Promise<void>((resolve) => {
      run.onEnd = resolve;
    });
    this.host.toBackend.send(serialize.flush());
    return this.host.toBackend
      .flush()
      .then(() => ended)
      .then(() => this.failIfCut());
  }

  private failIfCut(): void {
    this.guarded = undefined;
    if (!this.guardedCompleted) return;
    this.guardedCompleted = false;
    this.host.pending.push({ kind: 'refusal', refusal: new GatehouseError('policy.denied', 'result cut') });
    this.host.toBackend.send(FAIL_BEFORE_SYNC);
  }

  /** True from a cut until the next ReadyForQuery: the backend's answers are read, not relayed. */
  get swallowing(): boolean {
    return this.cutRun !== undefined;
  }

  /**
   * Resolves once no CancelRequest of a cut is in flight. A cancel that reached the backend after its statement
   * ended would otherwise hit the next statement the client sends (an idle backend ignores one).
   */
  settled(): Promise<void> | undefined {
    return this.cancelling;
  }

  /**
   * A backend message answering `run`, on its way to the client: a row (DataRow, CopyData) is counted, and false
   * returned while it may be relayed. The row that crosses a limit is not: the client's ErrorResponse goes to `out`
   * in its place, the cut begins, and true is returned.
   */
  cutRow(run: StatementRun, frame: Frame, out: Buffer[], state: Pick<SessionControl, 'skipUntilSync'>): boolean {
    if (frame.code !== BACKEND.DataRow && frame.code !== BACKEND.CopyData) return false;
    const refusal = this.admit(run, frame.bytes.length);
    if (refusal === undefined) return false;
    run.bytesOut += refusal.length;
    out.push(refusal);
    // The client saw its Execute fail: as after any error, its messages up to Sync are discarded.
    const pending = this.host.pending;
    if (pending.firstIsExtended() && !pending.awaitsReadyForQuery()) state.skipUntilSync();
    return true;
  }

  /**
   * After a cut, up to the ReadyForQuery the client waits for: answers keep the session's bookkeeping (`handle`, the
   * relay's own handling of each message: names confirmed, results recorded, errors skip to Sync) and reach the
   * client (`out`) only as far as its state needs them (setting reports, the ReadyForQuery). Rows are dropped unread.
   * `status`: the backend's transaction status once `handle` has read the ReadyForQuery.
   */
  swallow(
    frame: Frame,
    out: Buffer[],
    handle: (frame: Frame, out: Buffer[]) => void,
    status: () => TransactionStatus,
  ): void {
    if (frame.code === BACKEND.DataRow || frame.code === BACKEND.CopyData) return;
    this.answered(frame.code, this.host.pending.first?.run);
    if (frame.code === BACKEND.ParameterStatus) {
      handle(frame, out);
      return;
    }
    handle(frame, []);
    if (frame.code === BACKEND.ReadyForQuery) out.push(this.readyForQuery(frame.bytes, status()));
  }

  /**
   * A row (DataRow or CopyData of `bytes` bytes) of `run`'s result: counted and undefined when it may be relayed;
   * otherwise the ErrorResponse the client gets instead, and the cut begins.
   */
  private admit(run: StatementRun, bytes: number): Buffer | undefined {
    const limits = run.handle.decision.resultLimits;
    const counts = run.resultCounts;
    const rows = counts.rows + 1;
    const total = counts.bytes + bytes;
    const sessionRows = this.sessionRows + 1;
    const sessionBytes = this.sessionBytes + bytes;
    if (limits !== undefined) {
      const over =
        limits.rows !== undefined && rows > limits.rows
          ? 'rows'
          : limits.bytes !== undefined && total > limits.bytes
            ? 'bytes'
            : limits.sessionRows !== undefined && sessionRows > limits.sessionRows
              ? 'sessionRows'
              : limits.sessionBytes !== undefined && sessionBytes > limits.sessionBytes
                ? 'sessionBytes'
                : undefined;
      if (over !== undefined) return this.cut(run, over, limits[over] as number);
    }
    counts.rows = rows;
    counts.bytes = total;
    this.sessionRows = sessionRows;
    this.sessionBytes = sessionBytes;
    return undefined;
  }

  /**
   * A backend message (`code`) while swallowing, answering `run`. Another statement's answer is one the client is
   * not told of: its record says so. The cut statement's end says whether the backend completed it.
   */
  private answered(code: number, run: StatementRun | undefined): void {
    if (run === undefined) return;
    if (run !== this.cutRun) {
      run.fail(RESULT_CUT_SQLSTATE, 'answer withheld: an earlier result in the same message or batch was cut');
      return;
    }
    if (this.cutSettled) return;
    const end = CUT_STATEMENT_ENDS[code];
    if (end === undefined) return;
    this.cutSettled = true;
    if (run === this.guarded && code !== BACKEND.ErrorResponse) {
      this.guardedCompleted = true;
      run.amendError(`${end}; its transaction is failed before Sync`);
      return;
    }
    run.amendError(end);
  }

  /**
   * After a pass over the backend's bytes: the cut statement is still running (its answer has not ended), so the
   * backend is told to stop, unless the client already sent messages beyond this one that the cancel could hit.
   */
  afterDrain(): void {
    const run = this.cutRun;
    if (run === undefined || this.cancelSent || this.host.pending.first?.run !== run) return;
    if (this.host.pending.beyondNextReady()) return;
    this.cancelSent = true;
    const cancelling = this.host.cancel().catch(() => undefined);
    this.cancelling = cancelling;
    void cancelling.then(() => {
      if (this.cancelling === cancelling) this.cancelling = undefined;
    });
  }

  /**
   * The ReadyForQuery that ends the cut (already applied to the session's bookkeeping), as the client gets it. In a
   * transaction block the backend ran the statement to its end: the block is failed on the backend too, and the
   * client told so ('E'). Only when nothing of the client's follows on the connection (a pipelining client's next
   * statements would otherwise run before the abort): then the block stays as the backend has it.
   */
  private readyForQuery(frame: Buffer, status: TransactionStatus): Buffer {
    this.cutRun = undefined;
    this.cancelSent = false;
    this.cutSettled = false;
    if (status !== 'T' || this.host.pending.size > 0) return frame;
    // Its answers go to the probe, never to the client (see `PendingResponse.probe`).
    this.host.pending.push({ kind: 'query', probe: new PlanProbe() });
    this.host.toBackend.send(serialize.query(ABORT_BLOCK_SQL));
    void this.host.toBackend.flush();
    return encodeReadyForQuery('E');
  }

  private cut(run: StatementRun, over: keyof ResultLimits, limit: number): Buffer {
    this.cutRun = run;
    const message =
      `gatehouse: the result was cut after ${run.resultCounts.rows} rows (${run.resultCounts.bytes} bytes): ` +
      `over ${LIMIT_NAMES[over]} ${limit} of the rule that allowed the statement (${run.handle.decision.rule.id})`;
    run.fail(RESULT_CUT_SQLSTATE, message);
    return encodeErrorResponse({
      severity: 'ERROR',
      code: RESULT_CUT_SQLSTATE,
      message,
      hint: over.startsWith('session')
        ? 'The session has returned as many rows or bytes as its rule allows.'
        : 'Narrow the statement (WHERE, LIMIT), or ask for a higher limit.',
    });
  }
}
