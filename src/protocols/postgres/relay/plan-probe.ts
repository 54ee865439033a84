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
  failed = false;
  /** SQLSTATE of the first error. */
  sqlstate: string | undefined;
  readonly done: Promise<void>;
  private resolve!: () => void;

  constructor() {
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

  private async run(sql: string): Promise<PlanProbe> {
    const probe = new PlanProbe();
    this.host.pending.push({ kind: 'query', probe });
    this.host.toBackend.send(serialize.query(sql));
    await this.host.toBackend.flush();
    await probe.done;
    return probe;
  }
}
