import { serialize } from 'pg-protocol';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../../../admin/metrics.js';
import type { ApprovalService } from '../../../approvals/approval-service.js';
import type { ExactOperation } from '../../../approvals/review.js';
import { GatehouseError, isGatehouseError } from '../../../core/errors.js';
import type { Operation } from '../../../core/operation.js';
import type { OperationHandle, Session } from '../../../session/session.js';
import type { ClassifiedStatement } from '../sql/classify.js';
import { type ErrorFields, encodeErrorResponse, encodeReadyForQuery } from '../wire/backend-messages.js';
import { errorFieldsFor, refusalFor } from '../wire/error-response.js';
import type { BackendRelay } from './backend-relay.js';
import type { BackendWriter } from './backend-writer.js';
import type { PendingResponses } from './pending-responses.js';
import { mayOverlapInTransaction, mayOverlapRecord, onlyOpensTransaction } from './record-gate.js';
import { StatementApproval } from './statement-approval.js';
import type { StatementNames } from './statement-names.js';
import { recordRefusal } from './statement-run.js';

/**
 * The stand-in the backend runs for a refused statement: it fails to parse, so the backend itself raises the error
 * at the right place in its response stream and reacts as it would to any error (see `refuse` below).
 */
const REFUSAL_SQL = 'GATEHOUSE REFUSED THIS STATEMENT';
/** Named, so the failing Parse leaves the client's unnamed statement alone; a Parse that fails creates nothing. */
const REFUSAL_STATEMENT = 'gatehouse_refused';

/** What the gate reads and changes of the proxy session it serves. */
export interface StatementGateHost {
  /** The session is closing: nothing more reaches the backend. */
  closing(): boolean;
  /** Client messages are discarded until Sync, after an extended-protocol error. */
  skipping(): boolean;
  skipUntilSync(): void;
  close(reason: string, fatal?: ErrorFields): Promise<void>;
  /** Keeps a record's write pending until the session ends (its end is recorded after it). */
  track(done: Promise<void>): void;
}

export interface StatementGateOptions {
  readonly session: Session;
  readonly relay: BackendRelay;
  readonly toBackend: BackendWriter;
  readonly pending: PendingResponses;
  readonly names: StatementNames;
  readonly resourceName: string;
  /** What the audit record says about masking for this caller. */
  readonly maskingExtra: Readonly<Record<string, unknown>>;
  /** `audit.overlapReads`: plain reads run while their record is written (see `overlaps`). */
  readonly overlapReads: boolean;
  /** `audit.overlapTransactionWrites`: so do plain writes inside a transaction block (see `overlaps`). */
  readonly overlapTransactionWrites: boolean;
  readonly approvals: ApprovalService;
  /** Where approvers reach the admin listener, for the notice's link. */
  readonly approvalsPublicUrl?: string | undefined;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly host: StatementGateHost;
}

/**
 * Where a PostgreSQL session's statements are decided: policy and the durable record (`Session.open`), review by
 * an approver, and the refusal of what may not run.
 *
 * Review: a statement policy sends to review is held (and every client message behind it waits) while an approver
 * decides; the client gets a NoticeResponse with the review id at once. Approved, it runs as an allowed statement
 * would, once; denied, expired or withdrawn (CancelRequest, disconnect), it is refused as below.
 *
 * Refusals and transaction state: a refused statement never reaches the backend, but the backend is made to fail in
 * its place (a Parse/Query of text that does not parse) and the gateway swaps that ErrorResponse for its own 42501.
 * This keeps the backend's state faithful without the gateway rewriting anything: inside a transaction block the
 * transaction is aborted (status `E`, later statements fail until ROLLBACK, COMMIT rolls back), an implicit
 * transaction of a pipelined batch is rolled back, the backend skips the rest of the batch until Sync, and the error
 * lands after the answers to everything sent before it and before ReadyForQuery. Only when nothing is in flight and
 * no transaction block is open is a refused simple Query answered locally, which is then indistinguishable.
 */
export class StatementGate {
  private readonly session: Session;
  private readonly relay: BackendRelay;
  private readonly toBackend: BackendWriter;
  private readonly pending: PendingResponses;
  private readonly names: StatementNames;
  private readonly resourceName: string;
  private readonly maskingExtra: Readonly<Record<string, unknown>>;
  private readonly overlapReads: boolean;
  private readonly overlapTransactionWrites: boolean;
  private readonly logger: Logger;
  private readonly metrics: GatewayMetrics;
  private readonly host: StatementGateHost;
  /** Just-in-time approval: the statement held for a decision, if any. */
  private readonly approval: StatementApproval;
  /** The held statement's whole review handling (decision, refusal record), awaited before the session ends. */
  private reviewing: Promise<unknown> | undefined;

  constructor(options: StatementGateOptions) {
    this.session = options.session;
    this.relay = options.relay;
    this.toBackend = options.toBackend;
    this.pending = options.pending;
    this.names = options.names;
    this.resourceName = options.resourceName;
    this.maskingExtra = options.maskingExtra;
    this.overlapReads = options.overlapReads;
    this.overlapTransactionWrites = options.overlapTransactionWrites;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.host = options.host;
    this.approval = new StatementApproval({
      approvals: options.approvals,
      publicUrl: options.approvalsPublicUrl,
      waitMs: options.approvals.waits.postgres,
      identity: options.session.identity,
      sessionId: options.session.id,
      notify: (bytes) => this.relay.writeClient([bytes]),
      logger: options.logger,
    });
  }

  /** Withdraws the statement held for review, if any (CancelRequest, the client gone, shutdown): true if one was. */
  withdraw(): boolean {
    return this.approval.withdraw();
  }

  /** Settles once a held statement's handling is over (its refusal recorded). */
  async settled(): Promise<void> {
    await this.reviewing?.catch(() => undefined);
  }

  /** FunctionCall (the legacy fast-path interface) is not classifiable: recorded and refused. */
  async functionCall(functionOid: number): Promise<void> {
    const operation: Operation = {
      protocol: 'postgres',
      resource: this.resourceName,
      kind: 'unknown',
      tags: [],
      action: 'FunctionCall',
      text: `FunctionCall oid ${functionOid}`,
      unclassifiable: 'the FunctionCall message is not supported; call functions with SELECT',
    };
    const handle = await this.decide(operation, 'simple');
    if (handle === undefined) return;
    const refusal =
      handle.decision.verdict === 'allow'
        ? new GatehouseError(
            'policy.denied',
            'gatehouse: the FunctionCall message is not supported; call functions with SELECT',
          )
        : refusalFor(handle.decision, 'FunctionCall');
    this.refuse(refusal, 'simple', handle);
  }

  /**
   * Whether statements about to be sent may run while their record is written: plain reads (`mayOverlapRecord`), a
   * BEGIN (`onlyOpensTransaction`), and plain writes when they will run inside a transaction block
   * (`mayOverlapInTransaction`): the last ReadyForQuery said `T`, and nothing sent since can have ended the block (a
   * COMMIT pipelined ahead of an UPDATE).
   */
  overlaps(statements: readonly ClassifiedStatement[]): boolean {
    if (this.overlapReads && mayOverlapRecord(statements)) return true;
    if (!this.overlapTransactionWrites) return false;
    if (onlyOpensTransaction(statements)) return true;
    return (
      this.relay.transactionStatus === 'T' &&
      !this.pending.mayChangeTransactionStatus() &&
      mayOverlapInTransaction(statements)
    );
  }

  /**
   * `Session.begin`: policy decides and the operation is durably recorded. Returns the handle for an allowed
   * operation, or a reviewed one an approver approved (claimed for its one run); anything else (refusal, denial,
   * audit failure) has been answered and returns undefined. An allowed read that `overlap`s returns before its record
   * is durable, with the release of backend answers tied to it (see record-gate.ts).
   */
  async decide(
    operation: Operation,
    mode: 'simple' | 'extended',
    exact?: () => ExactOperation,
    overlap = false,
  ): Promise<OperationHandle | undefined> {
    let handle: OperationHandle;
    try {
      const opened = this.session.open(operation, this.maskingExtra, overlap);
      if (overlap && opened.handle.decision.verdict === 'allow') {
        this.relay.holdUntilRecorded(opened.durable, opened.handle);
        return opened.handle;
      }
      await opened.durable;
      handle = opened.handle;
    } catch (error) {
      this.logger.error({ err: error }, 'operation could not be recorded; refused');
      this.refuse(
        isGatehouseError(error) ? error : new GatehouseError('audit.unavailable', undefined, { cause: error }),
        mode,
      );
      return undefined;
    }
    if (handle.decision.verdict === 'allow') return handle;
    if (handle.decision.verdict === 'review' && exact !== undefined) {
      const reviewing = this.review(handle, operation, exact(), mode);
      this.reviewing = reviewing;
      try {
        return await reviewing;
      } finally {
        this.reviewing = undefined;
      }
    }
    this.metrics.requests.inc({
      protocol: 'postgres',
      resource: this.resourceName,
      outcome: handle.decision.verdict,
    });
    this.refuse(refusalFor(handle.decision, operation.action), mode, handle);
    return undefined;
  }

  /**
   * A `review` decision: the statement is held (and later client messages with it) until an approver decides. An
   * approved statement then runs as an allowed one would; any other outcome is refused like a denied statement.
   */
  private async review(
    handle: OperationHandle,
    operation: Operation,
    exact: ExactOperation,
    mode: 'simple' | 'extended',
  ): Promise<OperationHandle | undefined> {
    // The backend keeps its answers to earlier messages until a Sync or Flush: ask for them now, so the client sees
    // everything before the held statement answered while it waits.
    this.toBackend.send(serialize.flush());
    await this.toBackend.flush();
    if (this.host.closing()) {
      // Nobody is left to wait for a decision: no review is opened.
      this.refuse(refusalFor(handle.decision, operation.action), mode, handle);
      return undefined;
    }
    const verdict = await this.approval.decide(
      handle,
      operation,
      exact,
      () => !this.host.closing() && !this.host.skipping(),
    );
    // `skip`: the caller finds the connection closing or skipping to Sync and records the run as not run.
    if (verdict.kind === 'run' || verdict.kind === 'skip') return handle;
    this.metrics.requests.inc({ protocol: 'postgres', resource: this.resourceName, outcome: 'review' });
    this.refuse(verdict.refusal, mode, handle);
    if (verdict.kind === 'end') void this.host.close('gateway stopping', verdict.fatal);
    return undefined;
  }

  refuse(refusal: GatehouseError, mode: 'simple' | 'extended', handle?: OperationHandle): void {
    if (handle !== undefined) recordRefusal(handle, refusal, (done) => this.host.track(done));
    // Skipping until Sync (possibly since the decision was awaited): the backend would ignore the message unanswered.
    if (this.host.closing() || this.host.skipping()) return;
    if (mode === 'extended') {
      this.toBackend.send(serialize.parse({ name: REFUSAL_STATEMENT, text: REFUSAL_SQL }));
      this.pending.push({ kind: 'refusal', refusal });
      this.host.skipUntilSync();
      return;
    }
    const status = this.relay.transactionStatus;
    if (this.pending.size === 0 && status !== 'T') {
      // Nothing in flight and no transaction block to abort: the answer the backend would give, given locally.
      this.relay.writeClient([encodeErrorResponse(errorFieldsFor(refusal)), encodeReadyForQuery(status)]);
      return;
    }
    const change = this.names.simpleQuery();
    this.toBackend.send(serialize.query(REFUSAL_SQL));
    this.pending.push({ kind: 'query', change, refusal });
  }
}
