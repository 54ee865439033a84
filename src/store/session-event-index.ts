import { type ExpressionBuilder, type SelectQueryBuilder, sql, type Transaction } from 'kysely';
import type { StoreSchema } from './migrations.js';

/**
 * The session index (audit_session_events) is built in bulk behind the log instead of in every append. Indexing
 * each event as it was appended dirtied one index page per active session in every group commit, most of what a
 * commit wrote with several clients; a catch-up (every 250 ms by the SessionIndexer, or in each drain of the SQLite
 * store's spool) writes each session's page once for many commits.
 *
 * Nothing depends on the catch-up for correctness: readers take the indexed events plus the short tail after the
 * cursor, found by id range, in one statement (one snapshot, so an event moving from tail to index in between is
 * never missed or read twice).
 */

/** The cursor row of audit_index_cursors this index advances. */
export const SESSION_INDEX_CURSOR = 'sessions';

/**
 * At most this many events per catch-up: one batch blocks appends (and, on SQLite, the gateway's event loop) for
 * about 2.5 µs an event on this project's machines, some 12 ms.
 */
export const CATCH_UP_BATCH = 5_000;

/** Statements of a catch-up, run in one write transaction (SQLite's, with `?` parameters in the order given). */
export const CATCH_UP_SQL = {
  cursor: `select event_id from audit_index_cursors where name = '${SESSION_INDEX_CURSOR}'`,
  head: 'select max(id) as id from audit_events',
  /**
   * (from, through]. Sorted by session so each session's entries land on its pages together. `or rollback`: no
   * statement journal (see append-transaction.ts); a conflict fails the whole catch-up, and the drain with it.
   */
  index: `insert or rollback into audit_session_events (session_id, event_id)
    select session_id, id from audit_events where id > ? and id <= ? order by session_id, id`,
  advance: `update audit_index_cursors set event_id = ? where name = '${SESSION_INDEX_CURSOR}'`,
} as const;

/** Where a catch-up starts and ends, given the cursor and the log's last id (both may be null on odd stores). */
export function catchUpRange(
  cursor: number | string | null | undefined,
  head: number | string | null | undefined,
): { from: number; through: number } | undefined {
  const from = Number(cursor ?? 0);
  const last = Number(head ?? 0);
  if (last <= from) return undefined;
  return { from, through: Math.min(last, from + CATCH_UP_BATCH) };
}

/**
 * A condition on `audit_events` rows: the event belongs to one of `sessionIds`, whether indexed already or still in
 * the tail after the cursor. One `id in (... union all ...)`: with an OR of the two, SQLite scans the whole log.
 */
export function ofSessions(
  eb: ExpressionBuilder<StoreSchema, 'audit_events'>,
  sessionIds: readonly string[] | SelectQueryBuilder<StoreSchema, 'audit_events', { session_id: string }>,
) {
  const indexed = eb.selectFrom('audit_session_events').select('event_id').where('session_id', 'in', sessionIds);
  const tail = eb
    .selectFrom('audit_events as tail')
    .select('tail.id as event_id')
    .where(
      'tail.id',
      '>',
      eb.selectFrom('audit_index_cursors').select('event_id').where('name', '=', SESSION_INDEX_CURSOR),
    )
    .where('tail.session_id', 'in', sessionIds);
  return eb('audit_events.id', 'in', indexed.unionAll(tail));
}

/**
 * One catch-up on a Kysely transaction (PostgreSQL, and prunes): the cursor row is locked, so replicas take turns.
 * Returns how many event ids it passed (0 when the index is at the head).
 */
export async function catchUpIn(trx: Transaction<StoreSchema>): Promise<number> {
  const cursor = await sql<{ event_id: string | number }>`${sql.raw(CATCH_UP_SQL.cursor)} for update`.execute(trx);
  const head = await sql<{ id: string | number | null }>`${sql.raw(CATCH_UP_SQL.head)}`.execute(trx);
  const range = catchUpRange(cursor.rows[0]?.event_id, head.rows[0]?.id);
  if (!range) return 0;
  await sql`insert into audit_session_events (session_id, event_id)
    select session_id, id from audit_events where id > ${range.from} and id <= ${range.through}
    order by session_id, id`.execute(trx);
  await sql`update audit_index_cursors set event_id = ${range.through} where name = ${SESSION_INDEX_CURSOR}`.execute(
    trx,
  );
  return range.through - range.from;
}
