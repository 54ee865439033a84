/**
 * Audit events: append-only, one row each, chained by hash. A session's timeline is its events in order.
 * Payloads hold masked data only and never secrets or raw tokens.
 */
/** `forensic.read`: an auditor opened a session's forensic copies (recorded under that session, before the read). */
export const AUDIT_EVENT_TYPES = [
  'session.start',
  'operation',
  'operation.result',
  'session.end',
  'forensic.read',
  /** `review`: a just-in-time approval event (created, approved, denied, expired, withdrawn, executed). */
  'review',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditEventInput {
  readonly sessionId: string;
  readonly type: AuditEventType;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface AuditEvent extends AuditEventInput {
  /** Row id: unique in the store and increasing with time, across every instance's chain. */
  readonly id: number;
  /** The hash chain the event belongs to: the gateway instance that recorded it (`default` on SQLite). */
  readonly chain: string;
  /** Position in its chain, from 1 with no gaps; what the hash covers (equal to `id` on the default chain). */
  readonly seq: number;
  /** sha256 hex of the previous event's hash and this event's canonical content. */
  readonly hash: string;
  readonly prevHash: string;
}

/** Payload of `session.start`: everything needed to list sessions without reading their events. */
export interface SessionStartPayload {
  readonly protocol: string;
  readonly resource?: string;
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly tokenId: string;
  readonly clientAddress?: string;
  readonly userName?: string;
}

export interface SessionSummary {
  readonly id: string;
  readonly protocol: string;
  readonly resource: string | null;
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly operations: number;
  readonly denied: number;
}

/**
 * The events a stored one stands for. An `operation` event may carry its result in `payload.result` (the fields an
 * `operation.result` event has, but `seq`): when a read's result was in before its record was written (it ran while
 * the record waited for the group commit), both are written as one event, one row to chain and store instead of
 * two. Readers that want the timeline see it as the operation and its `operation.result` (at the operation's time
 * plus `durationMs`), as if recorded apart; verification and export keep the stored event as it is.
 */
export function unfoldResult<E extends AuditEventInput>(event: E): E[] {
  if (event.type !== 'operation') return [event];
  const { result, ...operation } = event.payload;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return [event];
  const fields = result as Readonly<Record<string, unknown>>;
  const durationMs = typeof fields.durationMs === 'number' ? fields.durationMs : 0;
  return [
    { ...event, payload: operation },
    { ...event, type: 'operation.result', at: event.at + durationMs, payload: { seq: operation.seq, ...fields } } as E,
  ];
}

/** `unfoldResult` over a sequence of events, in order. */
export function unfoldResults<E extends AuditEventInput>(events: readonly E[]): E[] {
  return events.flatMap((event) => unfoldResult(event));
}
