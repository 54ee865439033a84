import { type Kysely, type Selectable, sql } from 'kysely';
import type { AuditEvent, AuditEventType, SessionSummary } from '../core/audit-event.js';
import type { StoreDialect } from '../core/store-dialect.js';
import { DEFAULT_CHAIN } from './hash-chain.js';
import type { AuditEventsTable, SessionsTable, StoreSchema } from './migrations.js';
import { ofSessions } from './session-event-index.js';
import type { SessionQuery } from './store.js';

/** Shortest session id prefix `getSession` searches by; shorter ones must match a whole id. */
export const MIN_SESSION_PREFIX = 6;

/**
 * The read side of the Store, shared by the SQLite and PostgreSQL stores: the same Kysely queries run on both, and
 * rows are normalised here (PostgreSQL returns bigint and count as strings).
 *
 * A session's operation and denial counts are counted from its events when read, not kept up to date on every
 * append: that saved an UPDATE per session per audit transaction, on the recorder's hot path, and the counts come
 * from the hash-chained log itself. A session's events are found through the index built behind the log plus its
 * unindexed tail (session-event-index.ts).
 */
export class StoreReader {
  /** The operation's verdict, read from the payload's JSON text in the dialect's own JSON function. */
  private readonly verdict: ReturnType<typeof sql<string>>;

  constructor(
    private readonly db: Kysely<StoreSchema>,
    private readonly dialect: StoreDialect,
  ) {
    this.verdict =
      dialect === 'sqlite'
        ? sql<string>`json_extract(payload, '$.verdict')`
        : sql<string>`(payload::jsonb ->> 'verdict')`;
  }

  async listSessions(query: SessionQuery): Promise<readonly SessionSummary[]> {
    let q = this.db.selectFrom('sessions').selectAll();
    if (query.since !== undefined) q = q.where('started_at', '>=', query.since);
    if (query.subject !== undefined) q = q.where('subject', '=', query.subject);
    const rows = await q
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(0, Math.floor(query.limit)))
      .execute();
    if (rows.length === 0) return [];
    const counts = await this.db
      .selectFrom('audit_events')
      .select([
        'session_id',
        sql<number | string>`count(*)`.as('operations'),
        sql<number | string>`sum(case when ${this.verdict} = 'allow' then 0 else 1 end)`.as('denied'),
      ])
      .where('type', '=', 'operation')
      .where((eb) =>
        ofSessions(
          eb,
          rows.map((r) => r.id),
          this.dialect,
        ),
      )
      .groupBy('session_id')
      .execute();
    const bySession = new Map(counts.map((c) => [c.session_id, c]));
    return rows.map((row) => {
      const count = bySession.get(row.id);
      return toSummary(row, { operations: Number(count?.operations ?? 0), denied: Number(count?.denied ?? 0) });
    });
  }

  async getSession(idPrefix: string): Promise<{ summary: SessionSummary; events: readonly AuditEvent[] } | undefined> {
    const row = await this.findSession(idPrefix);
    if (!row) return undefined;
    // In time order: a session's events may come from more than one instance's chain (a review decided elsewhere).
    const events = await this.events()
      .where((eb) => ofSessions(eb, [row.id], this.dialect))
      .orderBy('at')
      .orderBy('id')
      .execute();
    const read = events.map(toEvent);
    const operations = read.filter((e) => e.type === 'operation');
    const denied = operations.filter((e) => e.payload['verdict'] !== 'allow').length;
    return { summary: toSummary(row, { operations: operations.length, denied }), events: read };
  }

  async readEvents(afterId: number, limit: number): Promise<readonly AuditEvent[]> {
    const rows = await this.events()
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(Math.max(0, Math.floor(limit)))
      .execute();
    return rows.map(toEvent);
  }

  async readChain(chain: string, afterSeq: number, limit: number): Promise<readonly AuditEvent[]> {
    const take = Math.max(0, Math.floor(limit));
    if (this.dialect === 'sqlite') {
      // One chain, whose positions are the row ids.
      return chain === DEFAULT_CHAIN ? this.readEvents(afterSeq, take) : [];
    }
    const rows = await this.events()
      .where(sql<string>`chain`, '=', chain)
      .where(sql<number>`seq`, '>', afterSeq)
      .orderBy(sql`seq`)
      .limit(take)
      .execute();
    return rows.map(toEvent);
  }

  /** Every column, plus the chain and position (on SQLite: the default chain, at the row id). */
  private events() {
    const chainColumns =
      this.dialect === 'postgres'
        ? [sql<string>`chain`.as('chain'), sql<number | string>`seq`.as('seq')]
        : [sql<string>`${DEFAULT_CHAIN}`.as('chain'), sql<number | string>`id`.as('seq')];
    return this.db.selectFrom('audit_events').selectAll().select(chainColumns);
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

function toSummary(
  row: Selectable<SessionsTable>,
  counts: Pick<SessionSummary, 'operations' | 'denied'>,
): SessionSummary {
  return {
    id: row.id,
    protocol: row.protocol,
    resource: row.resource,
    issuer: row.issuer,
    subject: row.subject,
    groups: JSON.parse(row.groups) as string[],
    startedAt: Number(row.started_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    ...counts,
  };
}

function toEvent(row: Selectable<AuditEventsTable> & { chain: string; seq: number | string }): AuditEvent {
  return {
    id: Number(row.id),
    chain: row.chain,
    seq: Number(row.seq),
    sessionId: row.session_id,
    type: row.type as AuditEventType,
    at: Number(row.at),
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
