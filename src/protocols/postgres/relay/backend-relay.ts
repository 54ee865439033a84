import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { MaskingFailure } from '../../../core/errors.js';
import type { OperationHandle } from '../../../session/session.js';
import {
  decodeErrorFields,
  decodeParameterStatus,
  decodeReadyForQuery,
  encodeErrorResponse,
} from '../wire/backend-messages.js';
import { errorFieldsFor, SESSION_SQLSTATE, sessionFatal } from '../wire/error-response.js';
import { type Frame, FrameReader } from '../wire/frame-reader.js';
import { BACKEND, type TransactionStatus } from '../wire/message-codes.js';
import { BOUND_EXPLAIN_COMPLETIONS } from './bound-explain.js';
import { ClientWriter } from './client-writer.js';
import type { PendingResponse, PendingResponses } from './pending-responses.js';
import type { PlanProbe } from './plan-probe.js';
import type { PreparedStatements } from './prepared-statements.js';
import { RecordGate } from './record-gate.js';
import type { ResultLimiter } from './result-limit.js';
import type { ResultRelay } from './result-relay.js';
import type { SessionControl } from './session-state.js';

/** Backend messages that may complete a pending frontend message. */
const COMPLETING = [
  BACKEND.CommandComplete,
  BACKEND.EmptyQueryResponse,
  BACKEND.PortalSuspended,
  BACKEND.ParseComplete,
  BACKEND.BindComplete,
  BACKEND.CloseComplete,
  BACKEND.NoData,
  BACKEND.RowDescription,
];

/**
 * Bytes of backend answers read, masked and captured while the record gate is shut, their output held for the client
 * until the record is durable. Enough for the typical read's whole answer, so its result is in before its record is
 * written and joins it (one audit event instead of two, see `AuditRecorder.amend`); past it, the record is urged and
 * the backend waits. Per session: what thousands of sessions may hold at once.
 */
const HOLD_BYTES = 64 * 1024;

export interface BackendRelayOptions {
  readonly client: Duplex;
  readonly backend: Duplex;
  /** Largest backend message relayed (a DataRow is held whole). */
  readonly maxMessageBytes: number;
  /** Forwarded frontend messages still waiting for their answer, shared with the session that queues them. */
  readonly pending: PendingResponses;
  /** Prepared statements and portals: name changes are confirmed as their messages complete. */
  readonly prepared: PreparedStatements;
  /** Capture for the audit record and masking of results. */
  readonly results: ResultRelay;
  /** `maxResultRows` / `maxResultBytes` and the session's: cuts a result that crosses them. */
  readonly limiter: ResultLimiter;
  readonly logger: Logger;
  /** The session's phase, and the one way to end it. */
  readonly state: SessionControl;
  /** A ReadyForQuery was relayed (the ParameterStatus reports before it already checked). */
  readonly onReadyForQuery?: () => void;
  /** Settings whose reported value must stay as given (ParameterStatus): another value ends the session at once. */
  readonly pinned: ReadonlyMap<string, string>;
}

type BackendHandler = (relay: BackendRelay, frame: Frame, out: Buffer[]) => void;

/**
 * The backend -> client half of a proxy session: relays backend messages, matches each answer to the pending
 * frontend message it completes (recording its result and confirming its name changes), masks and captures results,
 * and follows the transaction status. Client writes are batched per backend chunk; a client that reads slowly pauses
 * the backend.
 */
export class BackendRelay {
  private readonly client: Duplex;
  private readonly backend: Duplex;
  private readonly reader: FrameReader;
  private readonly pending: PendingResponses;
  private readonly prepared: PreparedStatements;
  private readonly results: ResultRelay;
  private readonly logger: Logger;
  private readonly state: SessionControl;
  /** Holds backend answers while an overlapped read's record is not durable (`audit.overlapReads`). */
  private readonly recordGate: RecordGate;
  /** The statement or portal (`S:name`, `P:name`) each pending Describe asked about. */
  private readonly describeTargets = new WeakMap<PendingResponse, string>();
  /** Output for the client while the record gate is shut, in order, and the backend bytes it came from. */
  /** Backend answers to the client, held while the record gate is shut. */
  private readonly toClient: ClientWriter;
  /** The operation whose record the gate waits for: urged when the held output is full (see `Session.open`). */
  private awaitedRecord: Pick<OperationHandle, 'urgeRecord'> | undefined;
  /** A RowDescription whose column names are being looked up; backend frames wait behind it. */
  private heldFrame: Frame | undefined;
  private status: TransactionStatus = 'I';
  /** The backend sent FATAL or PANIC: its hanging up next is the session's end, not a lost connection. */
  private backendFatal = false;

  constructor(private readonly options: BackendRelayOptions) {
    this.client = options.client;
    this.backend = options.backend;
    this.reader = new FrameReader({ maxMessageBytes: options.maxMessageBytes });
    this.pending = options.pending;
    this.prepared = options.prepared;
    this.results = options.results;
    this.logger = options.logger;
    this.state = options.state;
    this.toClient = new ClientWriter(options.client, options.backend, options.results, () => this.recordGate.shut);
    this.recordGate = new RecordGate(options.backend, {
      opened: () => {
        this.toClient.release();
        if (this.heldFrame === undefined) this.drain();
      },
      failed: (error) => {
        this.toClient.drop();
        this.logger.error({ err: error }, 'operation could not be recorded; its result was withheld');
        void this.state.close(
          'audit unavailable',
          sessionFatal('XX000', 'gatehouse: the statement could not be recorded, so its result was withheld'),
        );
      },
      closing: () => this.state.closing,
    });
  }

  /** The status of the backend's last ReadyForQuery. */
  get transactionStatus(): TransactionStatus {
    return this.status;
  }

  /** Reads the backend's answers, errors and end; the socket itself is resumed by the caller. */
  listen(): void {
    this.backend.on('data', (chunk: Buffer) => this.onBackendData(chunk));
    // A reset while closing is the backend hanging up as asked; only one mid-session is worth a warning.
    this.backend.on('error', (error) =>
      this.state.closing
        ? this.logger.debug({ err: error }, 'backend socket error while closing')
        : this.logger.warn({ err: error }, 'backend socket error'),
    );
    this.backend.on('close', () => {
      if (this.backendFatal) void this.state.close('backend ended the session');
      else
        void this.state.close(
          'backend connection lost',
          sessionFatal(SESSION_SQLSTATE.connectionFailure, 'gatehouse: the backend connection was lost'),
        );
    });
  }

  /** An overlapped read started before its record was durable: nothing more is relayed until `durable` resolves. */
  holdUntilRecorded(durable: Promise<void>, operation: Pick<OperationHandle, 'urgeRecord'>): void {
    this.awaitedRecord = operation;
    this.recordGate.waitFor(durable);
  }

  /** A Describe was forwarded for `target` (`S:name` or `P:name`): its RowDescription is remembered for it. */
  describes(item: PendingResponse, target: string): void {
    this.describeTargets.set(item, target);
    this.results.describeSent(target);
  }

  /**
   * Writes to the client, or holds it while the record gate is shut (everything written after an overlapped read
   * follows its answer: refusals and notices too); see client-writer.ts.
   */
  writeClient(out: Buffer[]): void {
    this.toClient.write(out);
  }

  private onBackendData(chunk: Buffer): void {
    if (this.state.closing) return;
    this.reader.push(chunk);
    if (this.recordGate.shut && this.toClient.heldBytes >= HOLD_BYTES) {
      this.recordGate.hold();
      return;
    }
    if (this.heldFrame === undefined) this.drain();
  }

  /**
   * Relays what the backend sent. While the record gate is shut, answers are still read, masked, captured and
   * completed (their results recorded), but their output is held (see `writeClient`), up to `HOLD_BYTES`.
   */
  private drain(): void {
    const out: Buffer[] = [];
    try {
      for (let frame = this.nextFrame(); frame !== undefined; frame = this.nextFrame()) {
        const probe = this.pending.first?.probe;
        if (probe !== undefined) {
          this.heldFrame = undefined;
          this.onProbeFrame(probe, frame, out);
          if (this.state.closing) return;
          continue;
        }
        if (frame.code === BACKEND.RowDescription && this.heldFrame === undefined) {
          const lookup = this.results.lookup(frame);
          if (lookup !== undefined) {
            // Column names are read from the catalog first; the backend waits (paused) until they are known.
            this.hold(frame, lookup, out);
            return;
          }
        }
        // After the column names are looked up: a description kept for a portal must be complete for masking.
        if (this.options.limiter.swallowing) {
          this.heldFrame = undefined;
          this.options.limiter.swallow(frame, out, this.handleFrame, this.currentStatus);
          if (this.state.closing) return;
          continue;
        }
        this.heldFrame = undefined;
        const run = this.pending.first?.run;
        if (run !== undefined) {
          if (this.options.limiter.cutRow(run, frame, out, this.state)) continue;
          run.bytesOut += frame.bytes.length;
        }
        const handle = BackendRelay.HANDLERS[frame.code];
        if (handle === undefined) out.push(frame.bytes);
        else handle(this, frame, out);
        if (this.state.closing) {
          // Nothing more goes to the client; the masked rows gathered are let go with the list.
          this.results.seal(out);
          return;
        }
        if (this.recordGate.shut) {
          this.toClient.heldBytes += frame.bytes.length;
          if (this.toClient.heldBytes >= HOLD_BYTES) {
            this.recordGate.hold();
            this.awaitedRecord?.urgeRecord();
            break;
          }
        }
      }
    } catch (error) {
      this.writeClient(out);
      if (error instanceof MaskingFailure) {
        // Fail closed: masking could not be applied, so the session ends instead of relaying raw values.
        this.logger.error({ reason: error.details['reason'] }, 'result masking failed; session closed');
        void this.state.close('masking failed', sessionFatal('XX000', error.message));
        return;
      }
      this.logger.error({ err: error }, 'malformed message from the backend');
      void this.state.close(
        'backend protocol error',
        sessionFatal('XX000', 'gatehouse: the backend sent a malformed message'),
      );
      return;
    }
    this.options.limiter.afterDrain();
    this.writeClient(out);
  }

  /** A backend message's bookkeeping (its handler), for the result limiter while it swallows a cut's answers. */
  private readonly handleFrame = (frame: Frame, out: Buffer[]): void => {
    BackendRelay.HANDLERS[frame.code]?.(this, frame, out);
  };

  private readonly currentStatus = (): TransactionStatus => this.status;

  private nextFrame(): Frame | undefined {
    return this.heldFrame ?? this.reader.next();
  }

  private hold(frame: Frame, lookup: Promise<void>, out: Buffer[]): void {
    this.writeClient(out);
    this.heldFrame = frame;
    this.backend.pause();
    lookup.then(
      () => {
        if (this.state.closing) return;
        this.backend.resume();
        this.drain();
      },
      (error: unknown) => {
        this.logger.error({ err: error }, 'column names for masking could not be read; session closed');
        void this.state.close(
          'masking failed',
          sessionFatal('XX000', 'gatehouse: the result could not be masked, so it was withheld'),
        );
      },
    );
  }

  /** A pending message is complete: confirm its name change and record its result. */
  private complete(item: PendingResponse): void {
    if (item.change !== undefined) this.prepared.confirm(item.change);
    item.descriptions?.();
    if (item.run !== undefined) {
      // Its result record counts the outcome in the metrics (OperationHandle.finish).
      const failed = item.run.failed;
      item.run.complete();
      if (!failed) item.onSuccess?.();
    }
  }

  /** Backend messages the gateway looks into, by type byte; all others are relayed untouched. */
  private static readonly HANDLERS: Readonly<Record<number, BackendHandler>> = Object.assign(Object.create(null), {
    [BACKEND.DataRow]: (relay: BackendRelay, frame: Frame, out: Buffer[]) =>
      relay.results.dataRow(frame, relay.pending.first?.run, out),
    [BACKEND.CopyOutResponse]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => {
      relay.results.copyOutResponse(frame);
      out.push(frame.bytes);
    },
    [BACKEND.CopyData]: (relay: BackendRelay, frame: Frame, out: Buffer[]) =>
      relay.results.copyData(frame, relay.pending.first?.run, out),
    [BACKEND.CopyDone]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => {
      relay.results.copyDone();
      out.push(frame.bytes);
    },
    ...Object.fromEntries(
      COMPLETING.map((code) => [
        code,
        (relay: BackendRelay, frame: Frame, out: Buffer[]) => relay.onCompleting(frame, out),
      ]),
    ),
    // After the spread: these completing messages also feed the capture and masking.
    [BACKEND.RowDescription]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => {
      relay.results.rowDescription(frame);
      relay.onCompleting(frame, out);
    },
    [BACKEND.CommandComplete]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => {
      relay.results.commandComplete(frame, relay.pending.first?.run);
      relay.onCompleting(frame, out);
    },
    [BACKEND.ErrorResponse]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => relay.onErrorResponse(frame, out),
    [BACKEND.NoticeResponse]: (relay: BackendRelay, frame: Frame, out: Buffer[]) =>
      out.push(relay.results.maskError(frame, relay.pending.first?.run).bytes),
    [BACKEND.NotificationResponse]: (relay: BackendRelay, frame: Frame, out: Buffer[]) =>
      out.push(relay.results.maskNotification(frame, relay.pending.first?.run)),
    [BACKEND.ReadyForQuery]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => relay.onReadyForQuery(frame, out),
    [BACKEND.ParameterStatus]: (relay: BackendRelay, frame: Frame, out: Buffer[]) => {
      const { name, value } = decodeParameterStatus(frame.body);
      const pinned = relay.options.pinned.get(name);
      if (pinned !== undefined && pinned.toLowerCase() !== value.toLowerCase()) {
        // Statements are classified as UTF-8 text with standard-conforming strings (and a read-only session must stay
        // so): the server now reads, or allows, otherwise. What came before this report is relayed, nothing after.
        relay.writeClient(out.splice(0));
        relay.logger.warn({ parameter: name, value, pinned }, 'the backend reported a pinned setting changed');
        void relay.state.close(
          `pinned setting changed: ${name}=${value.slice(0, 64)}`,
          sessionFatal(SESSION_SQLSTATE.featureNotSupported, `gatehouse: ${name} must stay ${pinned}`),
        );
        return;
      }
      // `set_config('application_name', email, false)` reports the value back: masked as a result is.
      out.push(relay.results.maskParameterStatus(frame, name, value, relay.pending.first?.run));
    },
  } satisfies Record<number, BackendHandler>);

  /** A message that may complete the first pending message (ParseComplete, CommandComplete...); relayed either way. */
  private onCompleting(frame: Frame, out: Buffer[]): void {
    if (this.pending.completesFirst(frame.code)) {
      const item = this.pending.shift() as PendingResponse;
      // A Describe's RowDescription is remembered for Executes of that statement or portal that come without one.
      const target = this.describeTargets.get(item);
      if (target !== undefined && frame.code === BACKEND.RowDescription) this.results.describedAs(target);
      else if (target !== undefined && frame.code === BACKEND.NoData) this.results.describedEmpty(target);
      this.complete(item);
      // The gateway's own Describe: its answer was for masking, not for the client.
      if (item.injected === true) return;
    }
    out.push(frame.bytes);
  }

  private onErrorResponse(frame: Frame, out: Buffer[]): void {
    this.results.end();
    const fields = decodeErrorFields(frame.body);
    if (fields['V'] === 'FATAL' || fields['V'] === 'PANIC') this.backendFatal = true;
    const first = this.pending.first;
    // Errors quote values (`invalid input syntax for type integer: "..."`): masked for the caller and the record.
    const masked = this.results.maskError(frame, first?.run);
    let answer = masked.bytes;
    const message = masked.message;
    if (first !== undefined && this.pending.firstIsExtended()) {
      this.pending.shift();
      if (first.refusal !== undefined) answer = encodeErrorResponse(errorFieldsFor(first.refusal));
      first.run?.fail(fields['C'], message);
      first.run?.complete();
      // The backend now skips every message until Sync; those still queued will never be answered.
      const { dropped, syncPending } = this.pending.dropUntilSync();
      for (const item of dropped) {
        item.run?.abandon('not run: an earlier message in the batch failed');
        item.probe?.finish(true);
      }
      // Describes the backend never answered: their portals are described again before they run.
      for (const item of [first, ...dropped]) {
        const target = this.describeTargets.get(item);
        if (target !== undefined) this.results.describeLost(target);
      }
      if (!syncPending) this.state.skipUntilSync();
      this.prepared.rebuild(this.pending.changes());
    } else if (first?.kind === 'query') {
      if (first.refusal !== undefined) answer = encodeErrorResponse(errorFieldsFor(first.refusal));
      first.run?.fail(fields['C'], message);
    }
    out.push(answer);
  }

  /** An answer to the gateway's own EXPLAIN: read, never relayed (a setting's report is still checked and relayed). */
  private onProbeFrame(probe: PlanProbe, frame: Frame, out: Buffer[]): void {
    if (frame.code === BACKEND.DataRow) probe.row(frame.body);
    else if (frame.code === BACKEND.ParameterStatus) BackendRelay.HANDLERS[frame.code]?.(this, frame, out);
    else if (probe.steps !== undefined) this.onBoundProbeFrame(probe, frame, out);
    else if (frame.code === BACKEND.ErrorResponse) {
      const fields = decodeErrorFields(frame.body);
      if (fields['V'] === 'FATAL' || fields['V'] === 'PANIC') this.backendFatal = true;
      probe.fail(fields['C']);
    } else if (frame.code === BACKEND.ReadyForQuery) {
      this.status = decodeReadyForQuery(frame.body);
      this.pending.shift();
      probe.finish();
    }
  }

  /**
   * An answer to the gateway's EXPLAIN inside the client's batch (bound-explain.ts). Its error is what planning the
   * client's statement with its parameters raised, and the backend now skips the batch to Sync: it is handled as
   * any extended-protocol error, the answer the client's Execute gets (unless an earlier result of the batch was
   * cut: the client already has its one error).
   */
  private onBoundProbeFrame(probe: PlanProbe, frame: Frame, out: Buffer[]): void {
    if (frame.code === BACKEND.ErrorResponse) {
      probe.fail(decodeErrorFields(frame.body)['C']);
      probe.finish();
      this.onErrorResponse(frame, this.options.limiter.swallowing ? [] : out);
    } else if (BOUND_EXPLAIN_COMPLETIONS.has(frame.code) && probe.step()) {
      this.pending.shift();
      probe.finish();
    }
  }

  private onReadyForQuery(frame: Frame, out: Buffer[]): void {
    this.results.end();
    this.status = decodeReadyForQuery(frame.body);
    for (let item = this.pending.shift(); item !== undefined; item = this.pending.shift()) {
      if (item.kind === 'sync' || item.kind === 'query') {
        this.complete(item);
        break;
      }
      // Unanswered messages before ReadyForQuery cannot happen with a conforming backend; never leave them dangling.
      item.run?.abandon('no answer from the backend');
    }
    if (this.status === 'I') this.prepared.endTransaction(this.pending.changes());
    out.push(frame.bytes);
    this.options.onReadyForQuery?.();
  }
}
