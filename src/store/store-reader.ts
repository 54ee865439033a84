import { type Kysely, type Selectable, sql } from 'kysely';
import type { AuditEvent, AuditEventType, SessionSummary } from '../audit/event.js';
import type { AuditEventsTable, SessionsTable, StoreSchema } from './migrations.js';
import type { SessionQuery } from './store.js';

/** Shortest session id prefix `getSession` searches by; shorter ones must match a whole id. */
export const MIN_SESSION_PREFIX = 6;

/**
 * The read side of the Store, shared by the SQLite and PostgreSQL stores: the same Kysely queries run on both, and
 * rows are normalised here (PostgreSQL returns bigint and count as strings).
 */
export class StoreReader {
  constructor(private readonly db: Kysely<StoreSchema>) {}

  async listSessions(query: SessionQuery): Promise<readonly SessionSummary[]> {
    let q = this.db.selectFrom('sessions').selectAll();
    if (query.since !== undefined) q = q.where('started_at', '>=', query.since);
    if (query.subject !== undefined) q = q.where('subject', '=', query.subject);
    const rows = await q
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(0, Math.floor(query.limit)))
      .execute();
    return rows.map(toSummary);
  }

  async getSession(idPrefix: string): Promise<{ summary: SessionSummary; events: readonly AuditEvent[] } | undefined> {
    const row = await this.findSession(idPrefix);
    if (!row) return undefined;
    const events = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .where('session_id', '=', row.id)
      .orderBy('id')
      .execute();
    return { summary: toSummary(row), events: events.map(toEvent) };
  }

  async readEvents(afterId: number, limit: number): Promise<readonly AuditEvent[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(Math.max(0, Math.floor(limit)))
      .execute();
    return rows.map(toEvent);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  private async findSession(idPrefix: string): Promise<Selectable<SessionsTable> | undefined> {
    const exact = await this.db.selectFrom('sessions').selectAll().where('id', '=', idPrefix).executeTakeFirst();
    if (exact || idPrefix.length < MIN_SESSION_PREFIX) return exact;
    // substr rather than LIKE: no wildcard escaping, and case-sensitive on both SQLite and PostgreSQL.
    const candidates = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where(sql<string>`substr(id, 1, ${idPrefix.length})`, '=', idPrefix)
      .limit(2)
      .execute();
    return candidates.length === 1 ? candidates[0] : undefined;
  }
}

function toSummary(row: Selectable<SessionsTable>): SessionSummary {
  return {
    id: row.id,
    protocol: row.protocol,
    resource: row.resource,
    issuer: row.issuer,
    subject: row.subject,
    groups: JSON.parse(row.groups) as string[],
    startedAt: Number(row.started_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    operations: Number(row.operations),
    denied: Number(row.denied),
  };
}

function toEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: Number(row.id),
    sessionId: row.session_id,
    type: row.type as AuditEventType,
    at: Number(row.at),
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
