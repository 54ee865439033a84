import type { Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../../admin/metrics.js';
import type { ApprovalService } from '../../approvals/approval-service.js';
import type { ExactOperation } from '../../approvals/review.js';
import type { PostgresResourceConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import { GatehouseError, isGatehouseError } from '../../core/errors.js';
import type { Operation } from '../../core/operation.js';
import { maskingNote, resolveMasking } from '../../masking/profile.js';
import type { OperationHandle, Session } from '../../session/session.js';
import type { BackendConnection } from './backend-connector.js';
import { BackendRelay } from './backend-relay.js';
import { BackendWriter } from './backend-writer.js';
import { type ClassifiedStatement, classifySql, toOperation } from './classify.js';
import { columnCatalogFor } from './column-catalog.js';
import { errorFieldsFor, refusalFor, SESSION_SQLSTATE, sessionFatal } from './error-response.js';
import { type PendingResponse, PendingResponses } from './pending-responses.js';
import { type PreparedStatement, PreparedStatements } from './prepared-statements.js';
import { mayOverlapRecord } from './record-gate.js';
import { ResultMasking } from './result-masking.js';
import { ResultRelay } from './result-relay.js';
import { bindParameters, StatementApproval } from './statement-approval.js';
import { recordRefusal, StatementRun } from './statement-run.js';
import { type ErrorFields, encodeErrorResponse, encodeReadyForQuery } from './wire/backend-messages.js';
import type { Frame, FrameReader } from './wire/frame-reader.js';
import { decodeFrontendMessage, type FrontendMessage } from './wire/frontend-messages.js';
import { protocolViolation } from './wire/protocol-error.js';

/**
 * The stand-in the backend runs for a refused statement: it fails to parse, so the backend itself raises the error
 * at the right place in its response stream and reacts as it would to any error (see `refuse` below).
 */
const REFUSAL_SQL = 'GATEHOUSE REFUSED THIS STATEMENT';
/** Named, so the failing Parse leaves the client's unnamed statement alone; a Parse that fails creates nothing. */
const REFUSAL_STATEMENT = 'gatehouse_refused';

/** Client bytes buffered while a decision is pending before the client socket is paused. */
const CLIENT_HIGH_WATER = 1024 * 1024;
/** Portals whose Bind parameters are remembered for a review (clients with ever-new portal names stay bounded). */
const BOUND_PORTALS = 64;

export interface ProxySessionOptions {
  readonly client: Socket;
  /** The client's frame reader, possibly holding bytes already received after the startup. */
  readonly clientReader: FrameReader;
  readonly backend: BackendConnection;
  readonly session: Session;
  readonly resource: PostgresResourceConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Largest backend message relayed (a DataRow is held whole). */
  readonly backendMaxMessageBytes: number;
  /** Holds statements policy sends to review until an approver decides. */
  readonly approvals: ApprovalService;
  /** Where approvers reach the admin listener, for the notice's link. */
  readonly approvalsPublicUrl?: string | undefined;
  /** `audit.overlapReads`: plain reads run while their record is written (see `overlaps`). */
  readonly overlapReads?: boolean;
}

type ClientHandlers = {
  readonly [T in FrontendMessage['type']]: (
    proxy: ProxySession,
    message: Extract<FrontendMessage, { type: T }>,
    frame: Frame,
  ) => void | Promise<void>;
};

/**
 * One client connection after login: relays frames between the client and its backend session, turning every
 * statement into an Operation that `Session.begin` decides and records before the backend sees it.
 *
 * Simple Query: the whole message is one operation. Extended protocol: Parse classifies and remembers statements by
 * name, Bind maps portals to them, and Execute is where policy decides, every time. Client messages are handled one
 * at a time in arrival order, so pipelined batches keep their order; backend answers are matched to the messages
 * that caused them through a FIFO of pending responses.
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
export class ProxySession {
  /** Resolves once the session is closed and its end recorded. */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly client: Socket;
  private readonly clientReader: FrameReader;
  private readonly backend: BackendConnection;
  /** Backend -> client: answers matched to the pending messages, results masked and recorded. */
  private readonly relay: BackendRelay;
  private readonly session: Session;
  private readonly resource: PostgresResourceConfig;
  private readonly logger: Logger;
  private readonly pending = new PendingResponses();
  private readonly prepared = new PreparedStatements();
  private readonly finishing = new Set<Promise<void>>();
  /** Client -> backend: frontend messages gathered for one write. */
  private readonly toBackend: BackendWriter;
  /** The backend ignores everything but Sync after an extended-protocol error; so does the gateway. */
  private skipping = false;
  private pumping = false;
  private clientPaused = false;
  private closing: Promise<void> | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** What the audit record says about masking for this caller. */
  private readonly maskingExtra: Readonly<Record<string, unknown>>;
  /** Results: capture for the audit record and masking (none for an exempt group). */
  private readonly results: ResultRelay;
  /** The client's Terminate was relayed: the backend is told once. */
  private terminateSent = false;
  /** Just-in-time approval: the statement held for a decision, if any. */
  private readonly approval: StatementApproval;
  /** The held statement's whole review handling (decision, refusal record), awaited before the session ends. */
  private reviewing: Promise<unknown> | undefined;
  /** The last Bind body per portal: its parameters go into a review of that portal's Execute. */
  private readonly bound = new Map<string, Buffer>();

  constructor(private readonly options: ProxySessionOptions) {
    this.client = options.client;
    this.clientReader = options.clientReader;
    this.backend = options.backend;
    this.toBackend = new BackendWriter(options.backend.socket);
    this.session = options.session;
    this.resource = options.resource;
    this.logger = options.logger.child({ session: options.session.id });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const masking = resolveMasking(options.resource.masking, options.session.identity.groups);
    this.maskingExtra = maskingNote(masking);
    this.results = new ResultRelay(
      masking.mode === 'mask' ? new ResultMasking(masking.plan, columnCatalogFor(options.resource)) : undefined,
    );
    this.relay = new BackendRelay({
      client: options.client,
      backend: options.backend.socket,
      maxMessageBytes: options.backendMaxMessageBytes,
      pending: this.pending,
      prepared: this.prepared,
      results: this.results,
      resourceName: options.resource.name,
      logger: this.logger,
      metrics: options.metrics,
      owner: {
        closing: () => this.closing !== undefined,
        close: (reason, fatal) => this.close(reason, fatal),
        skipUntilSync: () => {
          this.skipping = true;
        },
      },
    });
    this.approval = new StatementApproval({
      approvals: options.approvals,
      publicUrl: options.approvalsPublicUrl,
      waitMs: options.approvals.waits.postgres,
      identity: options.session.identity,
      sessionId: options.session.id,
      notify: (bytes) => this.relay.writeClient([bytes]),
      logger: this.logger,
    });
  }

  /** Starts relaying in both directions and arms the token-expiry timer. */
  start(): void {
    this.options.metrics.activeSessions.inc({ protocol: 'postgres' });
    this.client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    this.client.on('error', (error) => this.logger.debug({ err: error }, 'client socket error'));
    this.client.on('close', () => void this.onClientGone());
    this.relay.listen();
    // Both sockets were paused while the login finished; bytes that arrived meanwhile are waiting.
    this.client.resume();
    this.backend.socket.resume();
    this.armExpiry();
    void this.pump();
  }

  /**
   * CancelRequest from the client (through the gateway's key). A statement held for approval is what the client
   * waits on: its review is withdrawn and nothing reaches the backend. Otherwise the backend is sent its real key.
   */
  cancel(): Promise<void> {
    if (this.approval.withdraw()) return Promise.resolve();
    return this.backend.cancel();
  }

  /** Ends the session: optional FATAL to the client, both connections closed, pending results and the end recorded. */
  close(reason: string, fatal?: ErrorFields): Promise<void> {
    this.closing ??= this.shutdown(reason, fatal);
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Client -> backend

  private onClientData(chunk: Buffer): void {
    if (this.closing) return;
    this.clientReader.push(chunk);
    // Only pause while a decision is pending: otherwise the reader is waiting for the rest of one message, which
    // the configured maximum message length already bounds.
    if (this.pumping && this.clientReader.buffered > CLIENT_HIGH_WATER && !this.clientPaused) {
      this.clientPaused = true;
      this.client.pause();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.closing) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.closing) return;
        const frame = this.clientReader.next();
        if (frame === undefined) {
          if (this.toBackend.bytes === 0) break;
          await this.toBackend.flush();
          continue;
        }
        const handled = this.onClientFrame(frame);
        // What is gathered so far is not flushed before a decision is awaited: a decision takes microtasks (or one
        // group commit), and Parse, Bind, Execute and Sync then leave in one write instead of two. A review, which
        // may wait for minutes, flushes on its own (see `review`).
        if (handled !== undefined) {
          await handled;
        } else if (this.toBackend.full) {
          await this.toBackend.flush();
        }
      }
    } catch (error) {
      void this.close('protocol violation', errorFieldsFor(error, 'FATAL'));
    } finally {
      this.pumping = false;
      if (this.clientPaused && !this.closing) {
        this.clientPaused = false;
        this.client.resume();
      }
    }
  }

  private onClientFrame(frame: Frame): void | Promise<void> {
    const message = decodeFrontendMessage(frame);
    // As the server does after an extended-protocol error: discard everything until Sync, without answering.
    if (this.skipping && message.type !== 'Sync' && message.type !== 'Terminate') return;
    const handle = ProxySession.CLIENT_HANDLERS[message.type] as (
      proxy: ProxySession,
      message: FrontendMessage,
      frame: Frame,
    ) => void | Promise<void>;
    return handle(this, message, frame);
  }

  /** What each frontend message does, by message name. */
  private static readonly CLIENT_HANDLERS: ClientHandlers = Object.assign(Object.create(null), {
    Query: (proxy, message, frame) => proxy.query(message.sql, frame),
    Parse: (proxy, message, frame) => {
      const statements = proxy.classify(message.sql);
      const change = PreparedStatements.define(message.name, { statements, text: message.sql });
      proxy.prepared.stage(change);
      proxy.forward(frame, { kind: 'parse', change });
    },
    Bind: (proxy, message, frame) => {
      proxy.bound.delete(message.portal);
      if (proxy.bound.size >= BOUND_PORTALS) proxy.bound.delete(proxy.bound.keys().next().value as string);
      proxy.bound.set(message.portal, frame.body);
      proxy.results.bind(message.portal, message.statement, frame.body);
      const change = proxy.prepared.bind(message.portal, message.statement);
      proxy.prepared.stage(change);
      proxy.forward(frame, { kind: 'bind', change });
    },
    Describe: (proxy, message, frame) => {
      const item: PendingResponse = { kind: 'describe' };
      proxy.relay.describes(item, `${message.target}:${message.name}`);
      proxy.forward(frame, item);
    },
    Execute: (proxy, message, frame) => proxy.execute(message.portal, frame),
    Close: (proxy, message, frame) => {
      if (message.target === 'P') proxy.bound.delete(message.name);
      const change =
        message.target === 'S' ? PreparedStatements.forget(message.name) : PreparedStatements.closePortal(message.name);
      proxy.prepared.stage(change);
      proxy.forward(frame, { kind: 'close', change });
    },
    Sync: (proxy, _message, frame) => {
      proxy.skipping = false;
      proxy.forward(frame, { kind: 'sync' });
    },
    Flush: (proxy, _message, frame) => proxy.forward(frame),
    CopyData: (proxy, _message, frame) => proxy.forward(frame),
    CopyDone: (proxy, _message, frame) => proxy.forward(frame),
    CopyFail: (proxy, _message, frame) => proxy.forward(frame),
    Terminate: (proxy, _message, frame) => {
      proxy.forward(frame);
      proxy.terminateSent = true;
      void proxy.toBackend.flush().finally(() => proxy.close('client terminated'));
    },
    FunctionCall: (proxy, message) => proxy.functionCall(message.functionOid),
    PasswordMessage: () => {
      throw protocolViolation('unexpected PasswordMessage after authentication');
    },
  } satisfies ClientHandlers);

  private classify(sql: string): ClassifiedStatement[] {
    return classifySql(sql, {
      preparedStatement: (name) => {
        const prepared = this.prepared.statement(name);
        return prepared?.statements.length === 1 ? prepared.statements[0] : undefined;
      },
    });
  }

  private forward(frame: Frame, pending?: PendingResponse): void {
    this.toBackend.send(frame.bytes);
    if (pending !== undefined) this.pending.push(pending);
  }

  /** Simple Query: one operation for the whole message, however many statements it holds. */
  private async query(sql: string, frame: Frame): Promise<void> {
    const statements = this.classify(sql);
    const operation = toOperation(this.resource.name, statements, sql);
    const handle = await this.decide(
      operation,
      'simple',
      () => ({ protocol: 'postgres', sql }),
      this.overlaps(statements),
    );
    if (handle === undefined || this.closing) return;
    const run = this.newRun(handle);
    if (this.skipping) {
      // An extended-protocol error arrived while the decision was being recorded: the backend ignores this Query.
      run.abandon('not run: ignored until Sync after an earlier error');
      return;
    }
    this.forgetPreparedNames(statements);
    const change = PreparedStatements.simpleQuery();
    this.prepared.stage(change);
    this.forward(frame, { kind: 'query', change, run, onSuccess: () => this.definePreparedNames(statements) });
  }

  /** Execute: the portal's statement is decided again on every Execute (a suspended portal included). */
  private async execute(portal: string, frame: Frame): Promise<void> {
    const prepared = this.prepared.portal(portal);
    const statements = prepared === undefined ? undefined : this.statementsOf(prepared);
    const operation =
      statements === undefined || prepared === undefined
        ? unknownPortal(this.resource.name, portal)
        : toOperation(this.resource.name, statements, prepared.text);
    const handle = await this.decide(
      operation,
      'extended',
      () => this.exactExecute(portal, prepared),
      statements !== undefined && this.overlaps(statements),
    );
    if (handle === undefined || this.closing) return;
    const run = this.newRun(handle);
    run.portal = portal;
    if (this.skipping) {
      // An earlier message of this batch failed while the decision was being recorded: the backend skips this one.
      run.abandon('not run: an earlier message in the batch failed');
      return;
    }
    const list = statements ?? [];
    this.forgetPreparedNames(list);
    this.forward(frame, { kind: 'execute', run, onSuccess: () => this.definePreparedNames(list) });
  }

  /** What an Execute runs, for its review: the statement's text and the portal's parameters. */
  private exactExecute(portal: string, prepared: PreparedStatement | undefined): ExactOperation {
    const bound = this.bound.get(portal);
    const parameters = bound === undefined ? [] : bindParameters(bound);
    return { protocol: 'postgres', sql: prepared?.text ?? '', ...(parameters.length > 0 ? { parameters } : {}) };
  }

  /** Statements whose meaning depends on the session's prepared names (SQL EXECUTE) are classified again now. */
  private statementsOf(prepared: PreparedStatement): readonly ClassifiedStatement[] {
    return prepared.statements.some((s) => s.executes !== undefined)
      ? this.classify(prepared.text)
      : prepared.statements;
  }

  /** FunctionCall (the legacy fast-path interface) is not classifiable: recorded and refused. */
  private async functionCall(functionOid: number): Promise<void> {
    const operation: Operation = {
      protocol: 'postgres',
      resource: this.resource.name,
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

  private overlaps(statements: readonly ClassifiedStatement[]): boolean {
    return this.options.overlapReads === true && mayOverlapRecord(statements);
  }

  /**
   * `Session.begin`: policy decides and the operation is durably recorded. Returns the handle for an allowed
   * operation, or a reviewed one an approver approved (claimed for its one run); anything else (refusal, denial,
   * audit failure) has been answered and returns undefined. An allowed read that `overlap`s returns before its record
   * is durable, with the release of backend answers tied to it (see record-gate.ts).
   */
  private async decide(
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
    this.options.metrics.requests.inc({
      protocol: 'postgres',
      resource: this.resource.name,
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
    if (this.closing) {
      // Nobody is left to wait for a decision: no review is opened.
      this.refuse(refusalFor(handle.decision, operation.action), mode, handle);
      return undefined;
    }
    const verdict = await this.approval.decide(handle, operation, exact, () => !this.closing && !this.skipping);
    // `skip`: the caller finds the connection closing or skipping to Sync and records the run as not run.
    if (verdict.kind === 'run' || verdict.kind === 'skip') return handle;
    this.options.metrics.requests.inc({ protocol: 'postgres', resource: this.resource.name, outcome: 'review' });
    this.refuse(verdict.refusal, mode, handle);
    if (verdict.kind === 'end') void this.close('gateway stopping', verdict.fatal);
    return undefined;
  }

  private refuse(refusal: GatehouseError, mode: 'simple' | 'extended', handle?: OperationHandle): void {
    if (handle !== undefined) recordRefusal(handle, refusal, (done) => this.track(done));
    // Skipping until Sync (possibly since the decision was awaited): the backend would ignore the message unanswered.
    if (this.closing || this.skipping) return;
    if (mode === 'extended') {
      this.toBackend.send(serialize.parse({ name: REFUSAL_STATEMENT, text: REFUSAL_SQL }));
      this.pending.push({ kind: 'refusal', refusal });
      this.skipping = true;
      return;
    }
    const status = this.relay.transactionStatus;
    if (this.pending.size === 0 && status !== 'T') {
      // Nothing in flight and no transaction block to abort: the answer the backend would give, given locally.
      this.relay.writeClient([encodeErrorResponse(errorFieldsFor(refusal)), encodeReadyForQuery(status)]);
      return;
    }
    const change = PreparedStatements.simpleQuery();
    this.prepared.stage(change);
    this.toBackend.send(serialize.query(REFUSAL_SQL));
    this.pending.push({ kind: 'query', change, refusal });
  }

  private newRun(handle: OperationHandle): StatementRun {
    return new StatementRun(handle, (done) => this.track(done));
  }

  private track(done: Promise<void>): void {
    const tracked = done.catch((error: unknown) =>
      this.logger.error({ err: error }, 'operation result could not be recorded'),
    );
    this.finishing.add(tracked);
    void tracked.finally(() => this.finishing.delete(tracked));
  }

  /**
   * SQL PREPARE/DEALLOCATE share the namespace of protocol-level statements. Names a statement may change are
   * forgotten before it runs (so a failure can only leave them unknown, which policy denies) and defined once it
   * succeeded.
   */
  private forgetPreparedNames(statements: readonly ClassifiedStatement[]): void {
    for (const s of statements) {
      if (s.deallocatesAll) this.prepared.forgetNow(PreparedStatements.forgetAllNamed());
      const name = s.prepares ?? s.deallocates;
      if (name !== undefined) this.prepared.forgetNow(PreparedStatements.forget(name));
    }
  }

  private definePreparedNames(statements: readonly ClassifiedStatement[]): void {
    const defined = statements.filter((s) => s.prepares !== undefined);
    if (defined.length === 0) return;
    for (const s of defined)
      this.prepared.confirm(PreparedStatements.define(s.prepares as string, { statements: [s], text: s.text }));
    this.prepared.rebuild(this.pending.changes());
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Lifecycle

  private armExpiry(): void {
    const remaining = this.session.identity.expiresAt - this.options.clock.now();
    if (remaining <= 0) {
      void this.close(
        'token expired',
        sessionFatal(
          SESSION_SQLSTATE.tokenExpired,
          'gatehouse: the access token expired; reconnect with a fresh token',
        ),
      );
      return;
    }
    // setTimeout holds at most 2^31-1 ms; longer lifetimes re-arm.
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(remaining, 2 ** 31 - 1));
    this.expiryTimer.unref();
  }

  private async onClientGone(): Promise<void> {
    if (this.closing) return;
    // A statement held for approval has nobody left to run for: its review is withdrawn.
    if (this.approval.withdraw()) await this.reviewing?.catch(() => undefined);
    // A statement may still be running for a client that vanished: cancel it so the backend stops working on it.
    if (this.pending.size > 0) await this.backend.cancel().catch(() => undefined);
    await this.close('client disconnected');
  }

  private async shutdown(reason: string, fatal: ErrorFields | undefined): Promise<void> {
    clearTimeout(this.expiryTimer);
    this.options.metrics.activeSessions.dec({ protocol: 'postgres' });
    if (!this.client.destroyed) {
      if (fatal !== undefined) this.client.write(encodeErrorResponse(fatal));
      this.client.end();
      // A client that does not read its last bytes does not hold the socket open.
      setTimeout(() => this.client.destroy(), 5_000).unref();
    }
    const backend = this.backend.socket;
    if (!backend.destroyed) {
      // A second Terminate after the client's own would reach a backend already gone, which answers with a reset.
      backend.end(this.terminateSent ? undefined : serialize.end());
      setTimeout(() => backend.destroy(), 5_000).unref();
    }
    for (const item of this.pending.clear()) item.run?.abandon(`not completed: ${reason}`);
    // A held statement's review is withdrawn and its refusal recorded before the session's end.
    this.approval.withdraw();
    await this.reviewing?.catch(() => undefined);
    await Promise.allSettled([...this.finishing]);
    await this.session
      .end(reason)
      .catch((error: unknown) => this.logger.error({ err: error }, 'session end could not be recorded'));
    this.logger.debug({ reason }, 'postgres session closed');
    this.resolveClosed();
  }
}

function unknownPortal(resource: string, portal: string): Operation {
  return {
    protocol: 'postgres',
    resource,
    kind: 'unknown',
    tags: [],
    action: 'EXECUTE',
    text: `Execute portal "${portal}"`,
    unclassifiable: 'the portal is not bound to a statement the gateway has classified',
  };
}
