import { randomUUID } from 'node:crypto';
import type { GatewayMetrics } from '../admin/metrics.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { Clock } from '../core/clock.js';
import type { Decision } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { Operation, ProtocolName } from '../core/operation.js';
import type { PolicyEngine } from '../policy/engine.js';

export interface SessionServices {
  readonly policy: PolicyEngine;
  readonly recorder: AuditRecorder;
  readonly clock: Clock;
  readonly metrics: GatewayMetrics;
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
  readonly outcome: 'ok' | 'error' | 'refused';
  readonly status?: number;
  readonly rows?: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  readonly error?: string;
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

/** What the result record holds of the response: bounded by the capture limit, with a marker where it was cut. */
export interface CapturedResponse {
  status?: number;
  contentType?: string;
  body?: string;
  columns?: string[];
  rows?: (string | null)[][];
  tags?: string[];
  truncated?: boolean;
}

export interface OperationHandle {
  readonly seq: number;
  readonly decision: Decision;
  /** Keeps response content (already masked) for the result record, up to the capture limit. Cheap when full. */
  capture(part: ResponsePart): void;
  /** Records the result (with what was captured); resolves once durable. */
  finish(result: OperationResult): Promise<void>;
}

/** Default bytes of response content kept per operation. */
export const DEFAULT_CAPTURE_BYTES = 16 * 1024;

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
        (r.tags ??= []).push(part.tag);
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
    (r.rows ??= []).push([...part.values]);
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
  private ended = false;

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

  /** Records the session's start once; later calls share the same promise. */
  start(): Promise<void> {
    this.started ??= this.services.recorder.record({
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
    });
    return this.started;
  }

  /**
   * Decides the operation and records it with its decision. Throws `audit.unavailable` when the record cannot be made
   * durable: the caller must then not run the operation.
   */
  async begin(operation: Operation, extra?: Readonly<Record<string, unknown>>): Promise<OperationHandle> {
    const decision = this.services.policy.decide(operation, { identity: this.identity });
    this.services.metrics.decisions.inc({
      protocol: operation.protocol,
      resource: operation.resource,
      verdict: decision.verdict,
    });
    const seq = ++this.seq;
    const startedAt = this.services.clock.now();
    await this.start();
    await this.services.recorder.record({
      sessionId: this.id,
      type: 'operation',
      at: startedAt,
      payload: {
        seq,
        resource: operation.resource,
        protocol: operation.protocol,
        kind: operation.kind,
        tags: operation.tags,
        action: operation.action,
        text: operation.text,
        model: operation.model,
        unclassifiable: operation.unclassifiable,
        verdict: decision.verdict,
        reason: decision.reason,
        rule: decision.rule.id,
        selector: decision.rule.selector,
        ...extra,
      },
    });
    const capture = new ResponseCapture(this.options.captureBytes ?? DEFAULT_CAPTURE_BYTES);
    return {
      seq,
      decision,
      capture: (part) => capture.add(part),
      finish: (result) =>
        this.services.recorder.record({
          sessionId: this.id,
          type: 'operation.result',
          at: this.services.clock.now(),
          payload: {
            seq,
            durationMs: this.services.clock.now() - startedAt,
            ...result,
            ...(capture.empty ? {} : { response: capture.response }),
          },
        }),
    };
  }

  async end(reason: string): Promise<void> {
    if (this.ended || this.started === undefined) return;
    this.ended = true;
    await this.started.catch(() => undefined);
    await this.services.recorder.record({
      sessionId: this.id,
      type: 'session.end',
      at: this.services.clock.now(),
      payload: { reason },
    });
  }
}
