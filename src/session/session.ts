import { randomUUID } from 'node:crypto';
import type { CapturedResponse } from '../audit/captured-response.js';
import type { ForensicVault } from '../audit/forensic.js';
import type { AuditRecorder, RecordOptions } from '../audit/recorder.js';
import type { AuditEventInput } from '../core/audit-event.js';
import type { Clock } from '../core/clock.js';
import type { Decision, EstimateFigure } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { Metrics } from '../core/metrics.js';
import type { Operation, ProtocolName } from '../core/operation.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Store } from '../store/store.js';
import { type RecordedOutcome, requestOutcome } from './outcome.js';

export interface SessionServices {
  readonly policy: PolicyEngine;
  readonly recorder: AuditRecorder;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** The gateway's config, for `audit.captureBytes` (a session's own `captureBytes` option wins). */
  readonly config?: { readonly audit: { readonly captureBytes: number } };
  /** Present when forensic copies are enabled (`audit.forensic`); they go to `store`. */
  readonly forensic?: ForensicVault;
  readonly store?: Pick<Store, 'putForensicCopy'>;
}

export interface SessionOptions {
  readonly protocol: ProtocolName;
  readonly identity: Identity;
  readonly resource?: string;
  readonly clientAddress?: string;
  readonly userName?: string;
  /** Bytes of response content kept per operation for replay (0 keeps none). */
  readonly captureBytes?: number;
}

/** What became of an operation, recorded after it ran (or failed). Sizes are what reached the caller. */
export interface OperationResult {
  readonly outcome: RecordedOutcome;
  readonly status?: number;
  readonly rows?: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  readonly error?: string;
  /** Per-type counts of values masked in the response, e.g. `{ email: 3, card: 1 }`. */
  readonly masked?: Readonly<Record<string, number>>;
  /** Tokens an inference call used, as the upstream reported them (absent when it reported none). */
  readonly usage?: TokenCounts;
  /** Tokens held against budgets while the call ran (prompt estimate plus output ceiling), when budgets applied. */
  readonly reservedTokens?: number;
  /** Tokens the budgets were finally charged: the reported total, the whole reservation when unknown, 0 on failure. */
  readonly chargedTokens?: number;
  /** A budget refusal: budget, unit, limit, used, reserved, requested and `resetAt` (epoch ms). */
  readonly quota?: Readonly<Record<string, string | number>>;
  /** The agent that carried the call (resources with `via: agent`). */
  readonly servedBy?: string;
  /** Notifications of the backend relayed to the caller while the operation ran (MCP progress). */
  readonly notifications?: number;
}

/** Token counts of one inference call. */
export interface TokenCounts {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/**
 * What an inference or vector-store call asked for, recorded with the operation: the API operation, the requested
 * output ceiling and the gateway's prompt estimate (what a budget reservation is made of).
 */
export interface CallNote {
  readonly call?: string;
  readonly stream?: boolean;
  readonly maxOutputTokens?: number;
  readonly promptTokensEstimate?: number;
}

/**
 * Response content kept with an operation's result, for replay. Always what the caller received (masked), never the
 * raw backend answer. HTTP bodies are kept as text; SQL results as column names, rows of text values and the tag.
 */
export type ResponsePart =
  | { readonly type: 'http-head'; readonly status: number; readonly contentType?: string }
  | { readonly type: 'http-body'; readonly chunk: Buffer | string }
  | { readonly type: 'sql-columns'; readonly columns: readonly string[] }
  | { readonly type: 'sql-row'; readonly values: readonly (string | null)[] }
  | { readonly type: 'sql-complete'; readonly tag: string };

export interface OperationHandle {
  readonly seq: number;
  readonly decision: Decision;
  /** Keeps response content (already masked) for the result record, up to the capture limit. Cheap when full. */
  capture(part: ResponsePart): void;
  /**
   * Keeps the unmasked response for the optional forensic copy (sealed with AES-256-GCM at `finish`). A no-op unless
   * `audit.forensic` is enabled; call it with the backend's content before masking, next to `capture`.
   */
  captureForensic(part: ResponsePart): void;
  /**
   * Records the result (with what was captured); resolves once durable. `defer` when nothing waits on it (the
   * answer already went out): it then shares the next transaction instead of costing one of its own. Also counts the
   * operation's outcome in the metrics (the first call only; see `requestOutcome`): protocols report outcomes here.
   */
  finish(result: OperationResult, options?: FinishOptions): Promise<void>;
  /** Has the operation's record written at once if it still waits for its result (see `Session.open`). */
  urgeRecord(): void;
}

/** How a result is recorded (`RecordOptions`), and what of it only the metrics see. */
export interface FinishOptions extends RecordOptions {
  /** Seconds until the backend answered (response headers for HTTP, completion for SQL), when it was reached. */
  readonly upstreamSeconds?: number;
}

const EXPECTS_RESULT: RecordOptions = { expectsResult: true };

/** Default bytes of response content kept per operation. */
const DEFAULT_CAPTURE_BYTES = 16 * 1024;

/** Accumulates response parts up to a byte budget; past it, only notes that the record was cut. */
class ResponseCapture {
  readonly response: CapturedResponse = {};
  private remaining: number;

  constructor(limit: number) {
    this.remaining = limit;
  }

  get empty(): boolean {
    const r = this.response;
    return r.status === undefined && r.body === undefined && r.columns === undefined && r.tags === undefined;
  }

  add(part: ResponsePart): void {
    const r = this.response;
    switch (part.type) {
      case 'http-head':
        r.status = part.status;
        if (part.contentType !== undefined) r.contentType = part.contentType;
        return;
      case 'sql-columns':
        r.columns = [...part.columns];
        return;
      case 'sql-complete':
        r.tags ??= [];
        r.tags.push(part.tag);
        return;
    }
    if (this.remaining <= 0) {
      r.truncated = true;
      return;
    }
    if (part.type === 'http-body') {
      const text = typeof part.chunk === 'string' ? part.chunk : part.chunk.toString('utf8');
      const kept = text.length > this.remaining ? text.slice(0, this.remaining) : text;
      if (kept.length < text.length) r.truncated = true;
      r.body = (r.body ?? '') + kept;
      this.remaining -= kept.length;
      return;
    }
    const size = part.values.reduce((sum, value) => sum + (value?.length ?? 4), 0);
    r.rows ??= [];
    r.rows.push([...part.values]);
    this.remaining -= size;
  }
}

/**
 * One authenticated caller's run of operations (a PostgreSQL connection, or one token's HTTP requests). Every
 * operation passes through `begin`: policy decides, and the operation with its decision is durably recorded before
 * the caller may run it. Protocols never call policy or audit directly.
 */
export class Session {
  readonly id: string;
  readonly startedAt: number;
  private seq = 0;
  private started: Promise<void> | undefined;
  /** Set once `session.start` is durable: operations are then queued without waiting a turn for it. */
  private startDurable = false;
  private ended = false;
  /** The agent that opened the backend session (via: agent), recorded with the session's end. */
  servedBy: string | undefined;

  /** `wantedEstimates` by resource. */
  private readonly wanted = new Map<string, readonly EstimateFigure[]>();

  constructor(
    private readonly services: SessionServices,
    readonly options: SessionOptions,
  ) {
    this.id = randomUUID();
    this.startedAt = services.clock.now();
  }

  get identity(): Identity {
    return this.options.identity;
  }

  /**
   * The figures some rule for this caller on `resource` limits: a protocol measures them only when asked. Asked of
   * policy once per resource: its rules and the session's identity do not change, and statements ask on every run.
   */
  wantedEstimates(resource: string): readonly EstimateFigure[] {
    let wanted = this.wanted.get(resource);
    if (wanted === undefined) {
      wanted = Object.freeze(this.services.policy.wantedEstimates(resource, this.identity));
      this.wanted.set(resource, wanted);
    }
    return wanted;
  }

  /**
   * The figures to measure before deciding `operation`: none unless policy allows it as it stands. A measurement
   * (an EXPLAIN on the backend) must not run for what is denied or waits for a human; a threshold only ever turns an
   * allow into review or deny.
   */
  estimatesWantedFor(operation: Operation): readonly EstimateFigure[] {
    const wanted = this.wantedEstimates(operation.resource);
    if (wanted.length === 0) return wanted;
    return this.services.policy.decide(operation, { identity: this.identity }).verdict === 'allow' ? wanted : [];
  }

  /**
   * Records the session's start once; later calls share the same promise. A start the store refused is tried again
   * by the next call: an HTTP session lives as long as its token, and must not stay refused once the store recovers.
   */
  start(): Promise<void> {
    if (this.started) return this.started;
    const started = this.services.recorder
      .record({
        sessionId: this.id,
        type: 'session.start',
        at: this.startedAt,
        payload: {
          protocol: this.options.protocol,
          resource: this.options.resource,
          issuer: this.identity.issuer,
          subject: this.identity.subject,
          groups: this.identity.groups,
          tokenId: this.identity.tokenId,
          clientAddress: this.options.clientAddress,
          userName: this.options.userName,
        },
      })
      .then(() => {
        this.startDurable = true;
      });
    started.catch(() => {
      if (this.started === started) this.started = undefined;
    });
    this.started = started;
    return started;
  }

  /**
   * Decides the operation and records it with its decision. Throws `audit.unavailable` when the record cannot be made
   * durable: the caller must then not run the operation.
   */
  async begin(operation: Operation, extra?: Readonly<Record<string, unknown>>): Promise<OperationHandle> {
    const { handle, durable } = this.open(operation, extra);
    await durable;
    return handle;
  }

  /**
   * Decides the operation and starts recording it: `durable` settles once the record is durable (rejecting with
   * `audit.unavailable` when it cannot be). For callers that overlap a plain read with that write (see
   * protocols/postgres/relay/record-gate.ts): they may start it, but must release nothing of its result before `durable`
   * resolves. Everyone else uses `begin`. `overlapping`: the caller will run the operation if allowed; its record
   * then expects the result to join it (see `RecordOptions.expectsResult`), and `handle.urgeRecord()` has it written
   * at once when something waits on it before the result is in.
   */
  open(
    operation: Operation,
    extra?: Readonly<Record<string, unknown>>,
    overlapping = false,
  ): { readonly handle: OperationHandle; readonly durable: Promise<void> } {
    const decision = this.services.policy.decide(operation, { identity: this.identity });
    this.services.metrics.countDecision(operation.protocol, operation.resource, decision.verdict);
    const seq = ++this.seq;
    const startedAt = this.services.clock.now();
    const payload: Record<string, unknown> = {
      seq,
      resource: operation.resource,
      protocol: operation.protocol,
      kind: operation.kind,
      tags: operation.tags,
      action: operation.action,
      text: operation.text,
    };
    // Only the optional fields that are set: JSON.stringify leaves undefined ones out anyway, but takes a slower
    // path over an object that holds them (bench/results/recording.md).
    if (operation.model !== undefined) payload['model'] = operation.model;
    if (operation.collection !== undefined) payload['collection'] = operation.collection;
    if (operation.target !== undefined) payload['target'] = operation.target;
    if (operation.unclassifiable !== undefined) payload['unclassifiable'] = operation.unclassifiable;
    payload['verdict'] = decision.verdict;
    payload['reason'] = decision.reason;
    payload['rule'] = decision.rule.id;
    payload['selector'] = decision.rule.selector;
    if (extra !== undefined) Object.assign(payload, extra);
    const event: AuditEventInput = { sessionId: this.id, type: 'operation', at: startedAt, payload };
    // The session's start goes first in the log; once it is durable the record is queued at once.
    const recorder = this.services.recorder;
    const options = overlapping && decision.verdict === 'allow' ? EXPECTS_RESULT : undefined;
    const durable = this.startDurable
      ? recorder.record(event, options)
      : this.start().then(() => recorder.record(event, options));
    const limit = this.options.captureBytes ?? this.services.config?.audit.captureBytes ?? DEFAULT_CAPTURE_BYTES;
    const handle = new RecordedOperation(this.services, operation, seq, decision, event, durable, limit);
    return { handle, durable };
  }

  async end(reason: string): Promise<void> {
    if (this.ended || this.started === undefined) return;
    this.ended = true;
    await this.started.catch(() => undefined);
    await this.services.recorder.record({
      sessionId: this.id,
      type: 'session.end',
      at: this.services.clock.now(),
      payload: this.servedBy === undefined ? { reason } : { reason, servedBy: this.servedBy },
    });
  }
}

/**
 * The handle of one operation (see `OperationHandle`): a class, not an object of closures, since one is made for
 * every statement (and under tsx every named closure costs a defineProperty for its name).
 */
class RecordedOperation implements OperationHandle {
  private readonly kept: ResponseCapture;
  /** The unmasked response for the forensic copy, when one is kept. */
  private readonly raw: ResponseCapture | undefined;

  /** Set by the first `finish`: an operation's outcome is counted once, however often its result is offered. */
  private counted = false;

  constructor(
    private readonly services: SessionServices,
    private readonly operation: Pick<Operation, 'protocol' | 'resource'>,
    readonly seq: number,
    readonly decision: Decision,
    /** The operation's own event, and its durability: a result known in time joins it. */
    private readonly record: AuditEventInput,
    private readonly recorded: Promise<void>,
    captureBytes: number,
  ) {
    this.kept = new ResponseCapture(captureBytes);
    this.raw = services.forensic && services.store ? new ResponseCapture(captureBytes) : undefined;
  }

  capture(part: ResponsePart): void {
    this.kept.add(part);
  }

  captureForensic(part: ResponsePart): void {
    this.raw?.add(part);
  }

  urgeRecord(): void {
    this.services.recorder.urge(this.record);
  }

  /** The one place an operation's outcome is reported: its result record, and its count in the metrics. */
  async finish(result: OperationResult, options?: FinishOptions): Promise<void> {
    const { recorder, forensic, store, clock, metrics } = this.services;
    if (!this.counted) {
      this.counted = true;
      const { protocol, resource } = this.operation;
      metrics.countRequest(protocol, resource, requestOutcome(result, this.decision));
      if (options?.upstreamSeconds !== undefined) metrics.observeUpstream(protocol, resource, options.upstreamSeconds);
    }
    const at = clock.now();
    const { seq, kept, raw, record } = this;
    const outcome = {
      durationMs: at - record.at,
      ...result,
      ...(kept.empty ? {} : { response: kept.response }),
    };
    // A read that ran while its record waited for the group commit (see Session.open) has its result in before
    // that write: one event instead of two (see `unfoldResult`), made durable before any of the rows go out.
    const stored = recorder.amend(record, { result: outcome })
      ? this.recorded
      : recorder.record(
          { sessionId: record.sessionId, type: 'operation.result', at, payload: { seq, ...outcome } },
          options,
        );
    // The forensic copy is as durable as the result record before the caller is answered (fail closed).
    if (raw && !raw.empty && forensic && store) {
      await Promise.all([stored, store.putForensicCopy(forensic.seal(record.sessionId, seq, at, raw.response))]);
    } else await stored;
  }
}
