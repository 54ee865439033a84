import type Database from 'better-sqlite3';
import { type ChainHead, type ChainLink, chainLinks, type SerialisedEvent } from '../hash-chain.js';
import type { SessionIndexChanges } from '../session-index.js';

/** Chains and writes one batch of events with its session index changes, in one transaction. */
export type AppendTransaction = (events: readonly SerialisedEvent[], index: SessionIndexChanges) => ChainLink[];

/**
 * Prepares the append statements on a connection (after migrations: they are compiled against the tables). The same
 * code runs on the gateway's connection or on the append thread's own (see append-thread.ts).
 */
export function prepareAppend(db: Database.Database): AppendTransaction {
  const head = db.prepare<[], ChainHead>('select id, hash from audit_events order by id desc limit 1');
  const insertEvent = db.prepare(
    'insert into audit_events (id, session_id, type, at, payload, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?)',
  );
  const upsertSession = db.prepare(
    `insert into sessions (id, protocol, resource, issuer, subject, groups, started_at, ended_at)
     values (@id, @protocol, @resource, @issuer, @subject, @groups, @startedAt, @endedAt)
     on conflict (id) do update set ended_at = coalesce(excluded.ended_at, sessions.ended_at)`,
  );
  const endSession = db.prepare('update sessions set ended_at = coalesce(@endedAt, ended_at) where id = @id');
  const transaction = db.transaction((events: readonly SerialisedEvent[], index: SessionIndexChanges) => {
    // Read the head inside the write transaction so another writer on the same file cannot fork the chain.
    const links = chainLinks(head.get(), events);
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as SerialisedEvent;
      const link = links[i] as ChainLink;
      insertEvent.run(link.id, e.sessionId, e.type, e.at, e.payloadJson, link.prevHash, link.hash);
    }
    for (const s of index.starts) upsertSession.run(s);
    for (const d of index.deltas) endSession.run(d);
    return links;
  });
  // BEGIN IMMEDIATE takes the write lock up front: a deferred transaction reading first could deadlock on upgrade.
  return (events, index) => transaction.immediate(events, index);
}
