import type Database from 'better-sqlite3';
import {
  type ChainHead,
  type ChainLink,
  chainLinks,
  DEFAULT_CHAIN,
  type Link,
  type SerialisedEvent,
} from '../hash-chain.js';
import type { SessionIndexChanges } from '../session-index.js';

/** Rows per multi-row insert (7 parameters each, well under SQLite's limit of 32,766). */
const INSERT_GROUP = 32;

/** Chains and writes one batch of events with its session index changes. */
export type AppendEvents = (events: readonly SerialisedEvent[], index: SessionIndexChanges) => ChainLink[];

export interface PreparedAppend {
  /** In a write transaction of its own (BEGIN IMMEDIATE). */
  readonly transaction: AppendEvents;
  /** Inside a write transaction the caller holds (the spool drainer's). */
  readonly inTransaction: AppendEvents;
}

/**
 * Prepares the append statements on a connection (after migrations: they are compiled against the tables). The same
 * code runs on the gateway's connection and on the spool drainer's thread's own (see spool-thread.ts).
 */
export function prepareAppend(db: Database.Database): PreparedAppend {
  // One chain, `default`, whose positions are the row ids.
  const head = db.prepare<[], ChainHead>('select id as seq, hash from audit_events order by id desc limit 1');
  // `or rollback`: a conflict (which only a damaged log could cause) undoes the whole transaction, as the callers'
  // transaction wrapper would anyway. With the default (abort), SQLite keeps a statement journal to undo just the
  // failing statement, copying every page each insert touches first: a cost per event (bench/results/recording.md).
  const insertSql = (rows: number) =>
    `insert or rollback into audit_events (id, session_id, type, at, payload, prev_hash, hash) values ${Array(rows)
      .fill('(?, ?, ?, ?, ?, ?, ?)')
      .join(', ')}`;
  const insertEvent = db.prepare(insertSql(1));
  // Rows in groups: each statement run costs a native call, binding and a reset; a drain writes thousands of rows.
  const insertGroup = db.prepare(insertSql(INSERT_GROUP));
  const groupValues: unknown[] = new Array(INSERT_GROUP * 7);
  const upsertSession = db.prepare(
    `insert into sessions (id, protocol, resource, issuer, subject, groups, started_at, ended_at)
     values (@id, @protocol, @resource, @issuer, @subject, @groups, @startedAt, @endedAt)
     on conflict (id) do update set ended_at = coalesce(excluded.ended_at, sessions.ended_at)`,
  );
  const endSession = db.prepare('update sessions set ended_at = coalesce(@endedAt, ended_at) where id = @id');
  const inTransaction: AppendEvents = (events, index) => {
    // The head is read inside the write transaction, so another writer on the same file cannot fork the chain.
    const links = chainLinks(head.get(), events);
    let i = 0;
    for (; i + INSERT_GROUP <= events.length; i += INSERT_GROUP) {
      for (let j = 0; j < INSERT_GROUP; j++) {
        const e = events[i + j] as SerialisedEvent;
        const link = links[i + j] as Link;
        groupValues[j * 7] = link.seq;
        groupValues[j * 7 + 1] = e.sessionId;
        groupValues[j * 7 + 2] = e.type;
        groupValues[j * 7 + 3] = e.at;
        groupValues[j * 7 + 4] = e.payloadJson;
        groupValues[j * 7 + 5] = link.prevHash;
        groupValues[j * 7 + 6] = link.hash;
      }
      insertGroup.run(groupValues);
    }
    for (; i < events.length; i++) {
      const e = events[i] as SerialisedEvent;
      const link = links[i] as Link;
      insertEvent.run(link.seq, e.sessionId, e.type, e.at, e.payloadJson, link.prevHash, link.hash);
    }
    for (const s of index.starts) upsertSession.run(s);
    for (const d of index.deltas) endSession.run(d);
    return links.map((link) => ({ ...link, id: link.seq, chain: DEFAULT_CHAIN }));
  };
  const transaction = db.transaction(inTransaction);
  // BEGIN IMMEDIATE takes the write lock up front: a deferred transaction reading first could deadlock on upgrade.
  return { transaction: (events, index) => transaction.immediate(events, index), inTransaction };
}
