import { type ExpressionBuilder, type SelectQueryBuilder, sql, type Transaction } from 'kysely';
import type { StoreDialect } from '../core/store-dialect.js';
import type { StoreSchema } from './migrations.js';

/**
 * The session index (audit_session_events) is built in bulk behind the log instead of in every append. Indexing
 * each event as it was appended dirtied one index page per active session in every group commit, most of what a
 * commit wrote with several clients; a catch-up (every 250 ms by the SessionIndexer, or in each drain of the SQLite
 * store's spool) writes each session's page once for many commits.
 *
 * Nothing depends on the catch-up for correctness: readers take the indexed events plus the short tail after the
 * cursor, found by position range, in one statement (one snapshot, so an event moving from tail to index in between is
 * never missed or read twice).
 */

/**
 * At most this many events per catch-up: one batch blocks appends (and, on SQLite, the gateway's event loop) while
 * it runs, so the cap bounds that pause (bench/results/recording.md).
 */
export const CATCH_UP_BATCH = 5_000;

/**
 * Statements of a SQLite catch-up, run in one write transaction (with `?` parameters in the order given). A SQLite
 * store has one chain, `default`, whose positions are the row ids; its cursor is that chain's `indexed_seq`.
 */
export const CATCH_UP_SQL = {
  cursor: `select indexed_seq as event_id from audit_chains where chain = 'default'`,
  head: 'select max(id) as id from audit_events',
  /**
   * (from, through]. Sorted by session so each session's entries land on its pages together. `or rollback`: no
   * statement journal (see append-transaction.ts); a conflict fails the whole catch-up, and the drain with it.
   */
  index: `insert or rollback into audit_session_events (session_id, event_id)
    select session_id, id from audit_events where id > ? and id <= ? order by session_id, id`,
  advance: `update audit_chains set indexed_seq = ? where chain = 'default'`,
} as const;

/** Where a catch-up starts and ends, given the cursor and the chain's last position (both may be null). */
export function catchUpRange(
  cursor: number | string | null | undefined,
  head: number | string | null | undefined,
): { from: number; through: number } | undefined {
  const from = Number(cursor ?? 0);
  const last = Number(head ?? 0);
  if (last <= from) return undefined;
  return { from, through: Math.min(last, from + CATCH_UP_BATCH) };
}

type SessionIds = readonly string[] | SelectQueryBuilder<StoreSchema, 'audit_events', { session_id: string }>;

/**
 * A condition on `audit_events` rows: the event belongs to one of `sessionIds`, whether indexed already or still in
 * the tail after its chain's cursor. One `id in (... union all ...)`: with an OR of the two, SQLite scans the whole
 * log. On PostgreSQL each chain's tail is found by a range on (chain, seq), one short scan per chain.
 */
export function ofSessions(
  eb: ExpressionBuilder<StoreSchema, 'audit_events'>,
  sessionIds: SessionIds,
  dialect: StoreDialect,
) {
  if (dialect === 'postgres') {
    const ids = Array.isArray(sessionIds)
      ? sql`(${sessionIds.length === 0 ? sql`null` : sql.join(sessionIds as string[])})`
      : sql`${sessionIds as SelectQueryBuilder<StoreSchema, 'audit_events', { session_id: string }>}`;
    return sql<boolean>`audit_events.id in (
      select event_id from audit_session_events where session_id in ${ids}
      union all
      select tail.id from audit_chains c join audit_events tail on tail.chain = c.chain and tail.seq > c.indexed_seq
      where tail.session_id in ${ids})`;
  }
  const indexed = eb.selectFrom('audit_session_events').select('event_id').where('session_id', 'in', sessionIds);
  const tail = eb
    .selectFrom('audit_events as tail')
    .select('tail.id as event_id')
    .where('tail.id', '>', eb.selectFrom('audit_chains').select('indexed_seq').where('chain', '=', 'default'))
    .where('tail.session_id', 'in', sessionIds);
  return eb('audit_events.id', 'in', indexed.unionAll(tail));
}

/**
 * One catch-up on a Kysely transaction (PostgreSQL, and prunes): each chain's cursor row is locked; with `skipLocked`
 * (the periodic catch-up), a chain another replica is indexing right now is skipped (it is being done), so replicas
 * never wait for each other there. Returns
 * how many events it passed, over the chains it took (0 when those are at their heads).
 */
export async function catchUpIn(trx: Transaction<StoreSchema>, skipLocked = false): Promise<number> {
  // A prune waits instead: it needs every chain indexed to know which sessions still have events.
  const lock = skipLocked ? sql`for update skip locked` : sql`for update`;
  const chains = await sql<{ chain: string; indexed_seq: string | number }>`
    select chain, indexed_seq from audit_chains order by chain ${lock}`.execute(trx);
  let passed = 0;
  for (const { chain, indexed_seq } of chains.rows) {
    const head = await sql<{ seq: string | number | null }>`
      select max(seq) as seq from audit_events where chain = ${chain}`.execute(trx);
    const range = catchUpRange(indexed_seq, head.rows[0]?.seq);
    if (!range) continue;
    await sql`insert into audit_session_events (session_id, event_id)
      select session_id, id from audit_events where chain = ${chain} and seq > ${range.from} and seq <= ${range.through}
      order by session_id, id`.execute(trx);
    await sql`update audit_chains set indexed_seq = ${range.through} where chain = ${chain}`.execute(trx);
    passed += range.through - range.from;
  }
  return passed;
}
