import type { AuditEventInput, SessionStartPayload } from '../core/audit-event.js';
import { GatehouseError } from '../core/errors.js';

/** A `sessions` row for a session that starts in this batch (ended too, when its end is in the batch). */
export interface SessionStartRow {
  readonly id: string;
  readonly protocol: string;
  readonly resource: string | null;
  readonly issuer: string;
  readonly subject: string;
  /** JSON array text. */
  readonly groups: string;
  readonly startedAt: number;
  endedAt: number | null;
}

/** A session that started in an earlier batch and ends in this one. */
export interface SessionDelta {
  readonly id: string;
  endedAt: number | null;
}

export interface SessionIndexChanges {
  readonly starts: readonly SessionStartRow[];
  readonly deltas: readonly SessionDelta[];
}

/**
 * How a batch of events changes the `sessions` index: sessions that start, and sessions that end. Operations change
 * nothing here (their counts are counted from the events when read, see store-reader.ts), so an ordinary batch of
 * operations writes no index row at all. The `operations` and `denied` columns keep their default 0; they remain
 * in the schema only because released migrations are never edited.
 */
export function sessionIndexChanges(events: readonly AuditEventInput[]): SessionIndexChanges {
  // Most batches are operations only: nothing to build.
  if (!events.some(startsOrEnds)) return NO_CHANGES;
  const starts = new Map<string, SessionStartRow>();
  const deltas = new Map<string, SessionDelta>();
  const entry = (sessionId: string): SessionStartRow | SessionDelta => {
    const started = starts.get(sessionId);
    if (started) return started;
    let delta = deltas.get(sessionId);
    if (!delta) {
      delta = { id: sessionId, endedAt: null };
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
      case 'session.end':
        entry(event.sessionId).endedAt = event.at;
        break;
      default:
        break;
    }
  }
  return { starts: [...starts.values()], deltas: [...deltas.values()] };
}

const NO_CHANGES: SessionIndexChanges = { starts: [], deltas: [] };

function startsOrEnds(event: AuditEventInput): boolean {
  return event.type === 'session.start' || event.type === 'session.end';
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
    endedAt: null,
  };
}
