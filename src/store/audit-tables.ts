import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { ChainHead } from './hash-chain.js';
import type { AuditCheckpointsTable, ForensicCopiesTable, StoreSchema } from './migrations.js';
import { catchUpIn, ofSessions } from './session-event-index.js';
import type { ForensicCopy, SignedCheckpoint, StoredCheckpoint } from './store.js';

/**
 * The tamper-evidence, export and forensic side of the Store, shared by the SQLite and PostgreSQL stores: single
 * statements through Kysely. Pruning, which needs one transaction, is each store's own (SQLite appends bypass Kysely).
 */
export class AuditTables {
  constructor(private readonly db: Kysely<StoreSchema>) {}

  async chainHead(): Promise<ChainHead | undefined> {
    const row = await this.db
      .selectFrom('audit_events')
      .select(['id', 'hash'])
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { id: Number(row.id), hash: row.hash } : undefined;
  }

  async firstEventIdAt(at: number): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.min('id').as('id'))
      .where('at', '>=', at)
      .executeTakeFirst();
    return row?.id === null || row?.id === undefined ? undefined : Number(row.id);
  }

  async appendCheckpoint(c: SignedCheckpoint): Promise<void> {
    await this.db.insertInto('audit_checkpoints').values(checkpointRow(c)).execute();
  }

  async listCheckpoints(): Promise<readonly StoredCheckpoint[]> {
    const rows = await this.db.selectFrom('audit_checkpoints').selectAll().orderBy('id').execute();
    return rows.map(toCheckpoint);
  }

  async exportCursor(sink: string): Promise<number> {
    const row = await this.db
      .selectFrom('export_cursors')
      .select('event_id')
      .where('sink', '=', sink)
      .executeTakeFirst();
    return row ? Number(row.event_id) : 0;
  }

  async saveExportCursor(sink: string, eventId: number, at: number): Promise<void> {
    await this.db
      .insertInto('export_cursors')
      .values({ sink, event_id: eventId, updated_at: at })
      .onConflict((oc) => oc.column('sink').doUpdateSet({ event_id: eventId, updated_at: at }))
      .execute();
  }

  async putForensicCopy(copy: ForensicCopy): Promise<void> {
    await this.db
      .insertInto('forensic_copies')
      .values({
        session_id: copy.sessionId,
        seq: copy.seq,
        at: copy.at,
        iv: copy.iv,
        tag: copy.tag,
        ciphertext: copy.ciphertext,
      })
      .execute();
  }

  async forensicCopies(sessionId: string): Promise<readonly ForensicCopy[]> {
    const rows = await this.db
      .selectFrom('forensic_copies')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('seq')
      .execute();
    return rows.map(toForensicCopy);
  }

  async retentionBoundary(cutoff: number): Promise<number> {
    const head = await this.chainHead();
    if (!head) return 0;
    // The first event of every session still active at or after the cutoff: nothing from there on may go. Found in
    // the session index and in its unindexed tail, in one statement (see session-event-index.ts).
    const active = this.db.selectFrom('audit_events').select('session_id').where('at', '>=', cutoff);
    const row = await this.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.min('audit_events.id').as('id'))
      .where((eb) => ofSessions(eb, active))
      .executeTakeFirst();
    const firstKept = row?.id === null || row?.id === undefined ? head.id : Number(row.id);
    // The head always stays: the next append links to it.
    return Math.max(0, Math.min(firstKept, head.id) - 1);
  }
}

/**
 * The statements a prune runs inside its transaction, in order, after catching the session index up to the head
 * (so the index alone says which sessions still have events); shared text for both stores.
 */
export const PRUNE_STATEMENTS = {
  deleteEvents: 'delete from audit_events where id <= ?',
  deleteIndexed: 'delete from audit_session_events where event_id <= ?',
  deleteSessions:
    'delete from sessions where not exists (select 1 from audit_session_events i where i.session_id = sessions.id)',
  deleteForensic:
    'delete from forensic_copies where not exists (select 1 from audit_session_events i where i.session_id = forensic_copies.session_id)',
} as const;

/** Runs the prune statements on a Kysely transaction (PostgreSQL). */
export async function pruneWithKysely(
  trx: Transaction<StoreSchema>,
  throughId: number,
  anchor: SignedCheckpoint,
): Promise<{ events: number; sessions: number }> {
  while ((await catchUpIn(trx)) > 0);
  await trx.insertInto('audit_checkpoints').values(checkpointRow(anchor)).execute();
  const events = await trx.deleteFrom('audit_events').where('id', '<=', throughId).executeTakeFirst();
  await trx.deleteFrom('audit_session_events').where('event_id', '<=', throughId).execute();
  const sessions = await sql.raw(PRUNE_STATEMENTS.deleteSessions).execute(trx);
  await sql.raw(PRUNE_STATEMENTS.deleteForensic).execute(trx);
  return { events: Number(events.numDeletedRows), sessions: Number(sessions.numAffectedRows ?? 0) };
}

export function checkpointRow(c: SignedCheckpoint) {
  return {
    event_id: c.eventId,
    hash: c.hash,
    at: c.at,
    reason: c.reason,
    key_id: c.keyId,
    signature: c.signature,
  };
}

function toCheckpoint(row: Selectable<AuditCheckpointsTable>): StoredCheckpoint {
  return {
    id: Number(row.id),
    eventId: Number(row.event_id),
    hash: row.hash,
    at: Number(row.at),
    reason: row.reason,
    keyId: row.key_id,
    signature: row.signature,
  };
}

function toForensicCopy(row: Selectable<ForensicCopiesTable>): ForensicCopy {
  return {
    sessionId: row.session_id,
    seq: Number(row.seq),
    at: Number(row.at),
    iv: row.iv,
    tag: row.tag,
    ciphertext: row.ciphertext,
  };
}
