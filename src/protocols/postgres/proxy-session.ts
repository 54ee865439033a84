import type { Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import type { Logger } from 'pino';
import type { ApprovalService } from '../../approvals/approval-service.js';
import type { PostgresResourceConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { Metrics } from '../../core/metrics.js';
import { maskingNote, resolveMasking } from '../../masking/profile.js';
import type { Session } from '../../session/session.js';
import { columnCatalogFor } from './masking/column-catalog.js';
import { ResultMasking } from './masking/result-masking.js';
import { BackendIdle } from './relay/backend-idle.js';
import { BackendRelay } from './relay/backend-relay.js';
import { BackendWriter } from './relay/backend-writer.js';
import { ClientMessages } from './relay/client-messages.js';
import { PendingResponses } from './relay/pending-responses.js';
import { PlanEstimator } from './relay/plan-probe.js';
import { ResultLimiter } from './relay/result-limit.js';
import { ResultRelay } from './relay/result-relay.js';
import { SessionState } from './relay/session-state.js';
import { SettingsBarrier } from './relay/settings-barrier.js';
import { StatementGate } from './relay/statement-gate.js';
import { StatementNames } from './relay/statement-names.js';
import type { SqlClassifier } from './sql/classify.js';
import { isLargeStatement, PARSE_IN_WORKER_ABOVE, preclassifyLarge } from './sql/large-statements.js';
import type { ParsePool } from './sql/parse-pool.js';
import { readFunctionsOf } from './sql/read-functions.js';
import type { BackendConnection } from './startup/backend-connector.js';
import { pinnedFor } from './startup/startup-parameters.js';
import { type ErrorFields, encodeErrorResponse } from './wire/backend-messages.js';
import { errorFieldsFor, SESSION_SQLSTATE, sessionFatal } from './wire/error-response.js';
import type { Frame, FrameReader } from './wire/frame-reader.js';
import { decodeFrontendMessage } from './wire/frontend-messages.js';
import { FRONTEND } from './wire/message-codes.js';

/** Client bytes buffered while a decision is pending before the client socket is paused. */
const CLIENT_HIGH_WATER = 1024 * 1024;

export interface ProxySessionOptions {
  readonly client: Socket;
  /** The client's frame reader, possibly holding bytes already received after the startup. */
  readonly clientReader: FrameReader;
  readonly backend: BackendConnection;
  readonly session: Session;
  readonly resource: PostgresResourceConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Largest backend message relayed (a DataRow is held whole). */
  readonly backendMaxMessageBytes: number;
  /** Holds statements policy sends to review until an approver decides. */
  readonly approvals: ApprovalService;
  /** Where approvers reach the admin listener, for the notice's link. */
  readonly approvalsPublicUrl?: string | undefined;
  /** `audit.overlapReads`: plain reads run while their record is written (see `StatementGate.overlaps`). */
  readonly overlapReads?: boolean;
  /** `audit.overlapTransactionWrites`: so do plain writes inside a transaction block. */
  readonly overlapTransactionWrites?: boolean;
  /** Settings the server must keep reporting as given (see startup-parameters.ts): any change ends the session. */
  readonly pinned?: ReadonlyMap<string, string>;
  /** Classifies statements longer than `parseInWorkerAbove` bytes off the event loop; without it, all on it. */
  readonly parsePool?: ParsePool;
  readonly parseInWorkerAbove?: number;
  /** The listener's SQL classifier (its caches are shared by the listener's sessions). */
  readonly classifier: SqlClassifier;
}

/**
 * One client connection after login: relays frames between the client and its backend session, turning every
 * statement into an Operation that `Session.begin` decides and records before the backend sees it.
 *
 * Simple Query: the whole message is one operation. Extended protocol: Parse classifies and remembers statements by
 * name, Bind maps portals to them, and Execute is where policy decides, every time. Client messages are handled one
 * at a time in arrival order, so pipelined batches keep their order; backend answers are matched to the messages
 * that caused them through a FIFO of pending responses.
 *
 * Each statement is decided, held for review or refused by the session's StatementGate.
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
  /** Prepared statements, portals and their parameters, and SQL classified against them. */
  private readonly names: StatementNames;
  private readonly finishing = new Set<Promise<void>>();
  /** Client -> backend: frontend messages gathered for one write. */
  private readonly toBackend: BackendWriter;
  /** Relaying, skipping to Sync after an extended-protocol error (as the backend does), or closing. */
  private readonly state = new SessionState((reason, fatal) => this.shutdown(reason, fatal));
  private pumping = false;
  private clientPaused = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Results: capture for the audit record and masking (none for an exempt group). */
  private readonly results: ResultRelay;
  /** The client's Terminate was relayed: the backend is told once. */
  private terminateSent = false;
  /** Policy, the durable record, review and refusal of each statement. */
  private readonly gate: StatementGate;
  /** Messages behind a statement that may change a setting wait for its ReadyForQuery (see settings-barrier.ts). */
  private readonly barrier = new SettingsBarrier();
  /** Planner estimates for rules with `maxCost` / `maxRows`. */
  private readonly estimator: PlanEstimator;
  /** Waits for nothing to be in flight on the backend connection, before an EXPLAIN. */
  private readonly idle: BackendIdle;
  /** Cuts results over `maxResultRows` / `maxResultBytes` (and the session's). */
  private readonly limiter: ResultLimiter;
  /** What each client message does (relay/client-messages.ts). */
  private readonly messages: ClientMessages;

  constructor(private readonly options: ProxySessionOptions) {
    this.client = options.client;
    this.clientReader = options.clientReader;
    this.backend = options.backend;
    this.toBackend = new BackendWriter(options.backend.socket);
    this.session = options.session;
    this.resource = options.resource;
    this.names = new StatementNames(options.classifier, readFunctionsOf(options.resource));
    this.logger = options.logger.child({ session: options.session.id });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const masking = resolveMasking(options.resource.masking, options.session.identity.groups);
    this.results = new ResultRelay(
      masking.mode === 'mask' ? new ResultMasking(masking.plan, columnCatalogFor(options.resource)) : undefined,
    );
    this.limiter = new ResultLimiter({
      toBackend: this.toBackend,
      pending: this.pending,
      cancel: () => this.backend.cancel(),
    });
    this.relay = new BackendRelay({
      client: options.client,
      backend: options.backend.socket,
      maxMessageBytes: options.backendMaxMessageBytes,
      pending: this.pending,
      prepared: this.names.prepared,
      results: this.results,
      limiter: this.limiter,
      logger: this.logger,
      pinned: options.pinned ?? pinnedFor(false),
      state: this.state,
      onReadyForQuery: () => {
        if (!this.pending.awaitsReadyForQuery()) this.barrier.ready();
        if (this.pending.size === 0) this.idle.wake();
      },
    });
    this.gate = new StatementGate({
      session: options.session,
      relay: this.relay,
      toBackend: this.toBackend,
      pending: this.pending,
      names: this.names,
      resourceName: options.resource.name,
      maskingExtra: maskingNote(masking),
      overlapReads: options.overlapReads === true,
      overlapTransactionWrites: options.overlapTransactionWrites === true,
      approvals: options.approvals,
      approvalsPublicUrl: options.approvalsPublicUrl,
      logger: this.logger,
      metrics: options.metrics,
      state: this.state,
      track: (done) => this.track(done),
    });
    this.idle = new BackendIdle(this.toBackend, this.pending, () => this.state.closing);
    this.estimator = new PlanEstimator(options.resource.name, {
      toBackend: this.toBackend,
      pending: this.pending,
      transactionStatus: () => this.relay.transactionStatus,
      idle: () => this.idle.wait(),
    });
    this.messages = new ClientMessages({
      resourceName: options.resource.name,
      session: options.session,
      names: this.names,
      pending: this.pending,
      toBackend: this.toBackend,
      relay: this.relay,
      results: this.results,
      limiter: this.limiter,
      gate: this.gate,
      barrier: this.barrier,
      estimator: this.estimator,
      state: this.state,
      track: (done) => this.track(done),
      terminated: () => {
        this.terminateSent = true;
        void this.toBackend.flush().finally(() => this.close('client terminated'));
      },
    });
  }

  /** Starts relaying in both directions and arms the token-expiry timer. */
  start(): void {
    this.options.metrics.sessionOpened('postgres');
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
    if (this.gate.withdraw()) return Promise.resolve();
    return this.backend.cancel();
  }

  /** Ends the session: optional FATAL to the client, both connections closed, pending results and the end recorded. */
  close(reason: string, fatal?: ErrorFields): Promise<void> {
    return this.state.close(reason, fatal);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Client -> backend

  private onClientData(chunk: Buffer): void {
    if (this.state.closing) return;
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
    if (this.pumping || this.state.closing) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.state.closing) return;
        // A cut result's CancelRequest is handled before anything else reaches the backend (see result-limit.ts).
        const cancelling = this.limiter.settled();
        if (cancelling !== undefined) {
          await this.toBackend.flush();
          await cancelling;
          continue;
        }
        const frame = this.clientReader.next();
        if (frame === undefined) {
          if (this.toBackend.bytes === 0) break;
          await this.toBackend.flush();
          continue;
        }
        // Only SQL text is read in the client encoding; COPY data, Bind, Execute and Sync go on (a COPY FROM STDIN
        // behind the barrier would otherwise never end).
        if (this.barrier.waiting && (frame.code === FRONTEND.Query || frame.code === FRONTEND.Parse)) {
          await this.toBackend.flush();
          await this.barrier.untilReady();
          if (this.state.closing) return;
        }
        const pool = this.options.parsePool;
        if (
          pool !== undefined &&
          !this.state.skipping &&
          isLargeStatement(frame, this.options.parseInWorkerAbove ?? PARSE_IN_WORKER_ABOVE) &&
          !(await preclassifyLarge(frame, pool, this.names, (e, mode) => this.gate.refuse(e, mode), this.logger))
        )
          continue;
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
      if (this.clientPaused && !this.state.closing) {
        this.clientPaused = false;
        this.client.resume();
      }
    }
  }

  private onClientFrame(frame: Frame): void | Promise<void> {
    const message = decodeFrontendMessage(frame);
    // As the server does after an extended-protocol error: discard everything until Sync, without answering.
    if (this.state.skipping && message.type !== 'Sync' && message.type !== 'Terminate') return;
    const early = this.barrier.refusal(
      message.type,
      message.type === 'Query' || message.type === 'Parse' ? message.sql : undefined,
    );
    if (early !== undefined) {
      this.logger.info({ message: message.type }, 'message refused: sent before Sync after a settings change');
      this.gate.refuse(early, message.type === 'Query' ? 'simple' : 'extended');
      return;
    }
    return this.messages.handle(message, frame);
  }

  private track(done: Promise<void>): void {
    const tracked = done.catch((error: unknown) =>
      this.logger.error({ err: error }, 'operation result could not be recorded'),
    );
    this.finishing.add(tracked);
    void tracked.finally(() => this.finishing.delete(tracked));
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
    if (this.state.closing) return;
    // A statement held for approval has nobody left to run for: its review is withdrawn.
    if (this.gate.withdraw()) await this.gate.settled();
    // A statement may still be running for a client that vanished: cancel it so the backend stops working on it.
    if (this.pending.size > 0) await this.backend.cancel().catch(() => undefined);
    await this.close('client disconnected');
  }

  private async shutdown(reason: string, fatal: ErrorFields | undefined): Promise<void> {
    clearTimeout(this.expiryTimer);
    this.barrier.ready();
    this.options.metrics.sessionClosed('postgres');
    if (!this.client.destroyed) {
      if (fatal !== undefined) this.client.write(encodeErrorResponse(fatal));
      this.client.end();
      // A client that does not read its last bytes does not hold the socket open.
      setTimeout(() => this.client.destroy(), 5_000).unref();
    }
    const backend = this.backend.socket;
    if (!backend.destroyed) {
      if (this.pending.size > 0 || backend.isPaused()) {
        // Work still running (a large result the client left): a backend blocked writing to us ignores a cancel
        // and a Terminate behind its unread output; dropping the socket ends its query at once.
        backend.destroy();
      } else {
        // A second Terminate after the client's own would reach a backend already gone, which answers with a reset.
        backend.end(this.terminateSent ? undefined : serialize.end());
        setTimeout(() => backend.destroy(), 5_000).unref();
      }
    }
    for (const item of this.pending.clear()) {
      item.run?.abandon(`not completed: ${reason}`);
      item.probe?.finish(true);
    }
    this.idle.wake();
    // A held statement's review is withdrawn and its refusal recorded before the session's end.
    this.gate.withdraw();
    await this.gate.settled();
    await Promise.allSettled([...this.finishing]);
    await this.session
      .end(reason)
      .catch((error: unknown) => this.logger.error({ err: error }, 'session end could not be recorded'));
    this.logger.debug({ reason }, 'postgres session closed');
    this.resolveClosed();
  }
}
