import type { AuditEventInput, SessionStartPayload } from '../audit/event.js';
import { GatehouseError } from '../core/errors.js';

/** A `sessions` row for a session that starts in this batch, with the batch's own counts folded in. */
export interface SessionStartRow {
  readonly id: string;
  readonly protocol: string;
  readonly resource: string | null;
  readonly issuer: string;
  readonly subject: string;
  /** JSON array text. */
  readonly groups: string;
  readonly startedAt: number;
  operations: number;
  denied: number;
  endedAt: number | null;
}

/** What a batch adds to a session that started in an earlier batch. */
export interface SessionDelta {
  readonly id: string;
  operations: number;
  denied: number;
  endedAt: number | null;
}

export interface SessionIndexChanges {
  readonly starts: readonly SessionStartRow[];
  readonly deltas: readonly SessionDelta[];
}

/**
 * How a batch of events changes the `sessions` index. Folding a batch into one row per session lets a store write it
 * with one statement per kind of change, in any order, instead of one per event.
 */
export function sessionIndexChanges(events: readonly AuditEventInput[]): SessionIndexChanges {
  const starts = new Map<string, SessionStartRow>();
  const deltas = new Map<string, SessionDelta>();
  const entry = (sessionId: string): SessionStartRow | SessionDelta => {
    const started = starts.get(sessionId);
    if (started) return started;
    let delta = deltas.get(sessionId);
    if (!delta) {
      delta = { id: sessionId, operations: 0, denied: 0, endedAt: null };
      deltas.set(sessionId, delta);
    }
    return delta;
  };

  for (const event of events) {
    switch (event.type) {
      case 'session.start':
        // A second start of the same session is kept in the log but does not reset the index.
        if (!starts.has(event.sessionId) && !deltas.has(event.sessionId)) {
          starts.set(event.sessionId, startRow(event));
        }
        break;
      case 'operation': {
        const e = entry(event.sessionId);
        e.operations += 1;
        if (event.payload.verdict !== 'allow') e.denied += 1;
        break;
      }
      case 'session.end':
        entry(event.sessionId).endedAt = event.at;
        break;
      default:
        break;
    }
  }
  return { starts: [...starts.values()], deltas: [...deltas.values()] };
}

function startRow(event: AuditEventInput): SessionStartRow {
  const p = event.payload as Partial<SessionStartPayload>;
  const text = (value: unknown): value is string => typeof value === 'string';
  if (
    !text(p.protocol) ||
    !text(p.issuer) ||
    !text(p.subject) ||
    !(p.resource === undefined || p.resource === null || text(p.resource)) ||
    !Array.isArray(p.groups) ||
    !p.groups.every(text)
  ) {
    throw new GatehouseError('internal', 'a session.start audit payload lacks protocol, issuer, subject or groups');
  }
  return {
    id: event.sessionId,
    protocol: p.protocol,
    resource: p.resource ?? null,
    issuer: p.issuer,
    subject: p.subject,
    groups: JSON.stringify(p.groups),
    startedAt: event.at,
    operations: 0,
    denied: 0,
    endedAt: null,
  };
}
