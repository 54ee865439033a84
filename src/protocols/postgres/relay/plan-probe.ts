import { serialize } from 'pg-protocol';
import type { EstimateFigure } from '../../../core/decision.js';
import type { OperationEstimates } from '../../../core/operation.js';
import type { ClassifiedStatement } from '../sql/classify.js';
import {
  cachedEstimates,
  cacheEstimates,
  estimatesFromPlans,
  explainableTexts,
  explainSql,
} from '../sql/plan-estimates.js';
import type { TransactionStatus } from '../wire/message-codes.js';
import type { BackendWriter } from './backend-writer.js';
import { BOUND_EXPLAIN_STEPS, type BoundStatement, boundExplainMessages, boundExplainName } from './bound-explain.js';
import type { PendingResponses } from './pending-responses.js';

const UNBOUNDED: OperationEstimates = Object.freeze({ cost: Number.POSITIVE_INFINITY, rows: Number.POSITIVE_INFINITY });

/** Taken inside a transaction block, so an EXPLAIN that fails leaves the client's transaction as it was. */
const SAVEPOINT = 'gatehouse_plan';

/**
 * The gateway's own Query on the session's backend connection (`PendingResponse.probe`): the relay hands it every
 * answer up to ReadyForQuery and relays none of them to the client.
 */
export class PlanProbe {
  readonly rows: string[] = [];
  /**
   * For a probe in the middle of an extended-protocol batch (bound-explain.ts): the completing answers still to
   * come; it ends with the last of them, or an ErrorResponse, which is then the client's (see `BackendRelay`).
   */
  steps: number | undefined;
  failed = false;
  /** SQLSTATE of the first error. */
  sqlstate: string | undefined;
  readonly done: Promise<void>;
  private resolve!: () => void;

  constructor(steps?: number) {
    this.steps = steps;
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  /** A DataRow's body: the first column, as text. */
  row(body: Buffer): void {
    if (body.length < 6 || body.readInt16BE(0) < 1) return;
    const length = body.readInt32BE(2);
    if (length >= 0 && 6 + length <= body.length) this.rows.push(body.toString('utf8', 6, 6 + length));
  }

  /** An extended probe's message completed; true when it was the last. */
  step(): boolean {
    this.steps = (this.steps ?? 1) - 1;
    return this.steps <= 0;
  }

  fail(sqlstate: string | undefined): void {
    this.failed = true;
    this.sqlstate ??= sqlstate;
  }

  /** ReadyForQuery, or the connection went away (then it counts as failed). */
  finish(abandoned = false): void {
    if (abandoned) this.failed = true;
    this.resolve();
  }
}

export interface PlanEstimatorHost {
  readonly toBackend: BackendWriter;
  readonly pending: PendingResponses;
  transactionStatus(): TransactionStatus;
  /** Resolves true once nothing is in flight on the backend connection; false if that cannot be awaited. */
  idle(): Promise<boolean>;
}

/**
 * Planner estimates for `maxCost` / `maxRows`: EXPLAIN (FORMAT JSON), never ANALYZE, on the session's own backend
 * connection and transaction (so it sees the session's settings, temporary tables and uncommitted changes), before
 * the statement is decided. Paid only when a rule for the caller asks (`Session.wantedEstimates`).
 */
export class PlanEstimator {
  /** The statement and portal name of this session's extended-protocol probes. */
  private boundName: string | undefined;
  constructor(
    private readonly resource: string,
    private readonly host: PlanEstimatorHost,
  ) {}

  /** Undefined when nothing asks or the statements cannot be explained: policy then judges them by kind alone. */
  async estimate(
    statements: readonly ClassifiedStatement[],
    wanted: readonly EstimateFigure[],
  ): Promise<OperationEstimates | undefined> {
    if (!wanted.includes('cost') && !wanted.includes('rows')) return undefined;
    const texts = explainableTexts(statements);
    if (texts === undefined) return undefined;
    if (!(await this.host.idle())) return undefined;
    const status = this.host.transactionStatus();
    // In a failed transaction block the statement fails anyway (and so would EXPLAIN).
    if (status === 'E') return undefined;
    const sql = explainSql(texts);
    // Inside a block the session's own uncommitted changes shape the plan: no reuse across transactions.
    if (status === 'I') {
      const cached = cachedEstimates(this.resource, sql);
      if (cached !== undefined) return cached;
    }
    const inBlock = status === 'T';
    const probe = await this.run(inBlock ? `SAVEPOINT ${SAVEPOINT};\n${sql}\nRELEASE SAVEPOINT ${SAVEPOINT}` : sql);
    if (probe.failed) {
      if (inBlock) await this.run(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
      // Class 57 (a CancelRequest, statement_timeout) stopped the EXPLAIN, not the statement: judged by kind, the
      // statement would escape its limits by a well-timed cancel. Unmeasured, it is over every limit (fail closed).
      if (probe.sqlstate?.startsWith('57') === true) return UNBOUNDED;
      return undefined;
    }
    if (probe.rows.length !== texts.length) return undefined;
    const estimates = estimatesFromPlans(probe.rows);
    if (estimates !== undefined && status === 'I') cacheEstimates(this.resource, sql, estimates);
    return estimates;
  }

  /**
   * An Execute's statement with its portal's parameters, in the middle of the client's batch (see bound-explain.ts).
   * Undefined as `estimate`; an EXPLAIN that fails has put the backend in the state the statement itself would (its
   * error is the client's, and the backend skips to Sync), so nothing of the batch runs after it.
   */
  async estimateBound(
    statements: readonly ClassifiedStatement[],
    wanted: readonly EstimateFigure[],
    bound: BoundStatement | undefined,
  ): Promise<OperationEstimates | undefined> {
    if (!wanted.includes('cost') && !wanted.includes('rows')) return undefined;
    if (statements.length !== 1 || explainableTexts(statements) === undefined) return undefined;
    // In a failed transaction block the statement fails anyway (and so would EXPLAIN).
    if (this.host.transactionStatus() === 'E' && !this.host.pending.mayChangeTransactionStatus()) return undefined;
    this.boundName ??= boundExplainName();
    const messages = bound === undefined ? undefined : boundExplainMessages(this.boundName, bound);
    // An explainable statement whose Bind the gateway no longer holds (a client binding many portals first) would
    // escape its limits if judged by kind: unmeasured, it is over every limit (fail closed).
    if (messages === undefined) return UNBOUNDED;
    const probe = new PlanProbe(BOUND_EXPLAIN_STEPS);
    this.host.pending.push({ kind: 'explain', probe });
    this.host.toBackend.send(messages);
    await this.host.toBackend.flush();
    await probe.done;
    // Failed, the statement cannot run either (the backend now skips to Sync): a cancel cannot help it escape.
    if (probe.failed) return undefined;
    return probe.rows.length === 1 ? estimatesFromPlans(probe.rows) : undefined;
  }

  private async run(sql: string): Promise<PlanProbe> {
    const probe = new PlanProbe();
    this.host.pending.push({ kind: 'query', probe });
    this.host.toBackend.send(serialize.query(sql));
    await this.host.toBackend.flush();
    await probe.done;
    return probe;
  }
}
