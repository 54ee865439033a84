import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { StoreDialect } from '../core/store-dialect.js';
import { type ChainHead, DEFAULT_CHAIN, type NamedChainHead } from './hash-chain.js';
import type { AuditCheckpointsTable, ForensicCopiesTable, StoreSchema } from './migrations.js';
import { catchUpIn, ofSessions } from './session-event-index.js';
import type { ForensicCopy, SignedCheckpoint, StoredCheckpoint } from './store.js';

/**
 * The tamper-evidence, export and forensic side of the Store, shared by the SQLite and PostgreSQL stores: single
 * statements through Kysely. Pruning, which needs one transaction, is each store's own (SQLite appends bypass Kysely).
 */
export class AuditTables {
  constructor(
    private readonly db: Kysely<StoreSchema>,
    private readonly dialect: StoreDialect,
  ) {}

  async chainHead(chain: string): Promise<ChainHead | undefined> {
    if (this.dialect === 'sqlite') {
      if (chain !== DEFAULT_CHAIN) return undefined;
      const row = await this.db
        .selectFrom('audit_events')
        .select(['id', 'hash'])
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? { seq: Number(row.id), hash: row.hash } : undefined;
    }
    const { rows } = await sql<{ seq: string; hash: string }>`
      select seq, hash from audit_events where chain = ${chain} order by seq desc limit 1`.execute(this.db);
    return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : undefined;
  }

  async chainHeads(): Promise<readonly NamedChainHead[]> {
    const heads: NamedChainHead[] = [];
    for (const chain of await this.listChains()) {
      const head = await this.chainHead(chain);
      if (head) heads.push({ chain, ...head });
    }
    return heads;
  }

  /**
   * Chains with events, with checkpoints, or that the session index has read (so a chain whose events were all
   * deleted is still named). PostgreSQL: the distinct chains of the log by a skip scan of (chain, seq), one index
   * probe per chain.
   */
  async listChains(): Promise<readonly string[]> {
    const others = sql`select chain from audit_checkpoints union select chain from audit_chains where indexed_seq > 0`;
    const { rows } =
      this.dialect === 'postgres'
        ? await sql<{ chain: string }>`
          with recursive c(chain) as (
            (select chain from audit_events order by chain limit 1)
            union all
            select (select e.chain from audit_events e where e.chain > c.chain order by e.chain limit 1)
            from c where c.chain is not null
          )
          select chain from c where chain is not null union ${others} order by chain`.execute(this.db)
        : await sql<{ chain: string }>`
          select 'default' as chain where exists (select 1 from audit_events) union ${others}
          order by chain`.execute(this.db);
    return rows.map((r) => r.chain);
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

  async listCheckpoints(chain?: string): Promise<readonly StoredCheckpoint[]> {
    let q = this.db.selectFrom('audit_checkpoints').selectAll();
    if (chain !== undefined) q = q.where('chain', '=', chain);
    const rows = await q.orderBy('id').execute();
    return rows.map(toCheckpoint);
  }

  async exportCursors(sink: string): Promise<ReadonlyMap<string, number>> {
    const rows = await this.db
      .selectFrom('export_chain_cursors')
      .select(['chain', 'seq'])
      .where('sink', '=', sink)
      .execute();
    return new Map(rows.map((r) => [r.chain, Number(r.seq)]));
  }

  async saveExportCursors(sink: string, cursors: ReadonlyMap<string, number>, at: number): Promise<void> {
    for (const [chain, seq] of cursors) {
      await this.db
        .insertInto('export_chain_cursors')
        .values({ sink, chain, seq, updated_at: at })
        .onConflict((oc) => oc.columns(['sink', 'chain']).doUpdateSet({ seq, updated_at: at }))
        .execute();
    }
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

  async retentionBoundary(chain: string, cutoff: number): Promise<number> {
    const head = await this.chainHead(chain);
    if (!head) return 0;
    // The chain's first event of every session still active at or after the cutoff (in any chain): nothing from
    // there on may go. Found in the session index and in its unindexed tail, in one statement.
    const active = this.db.selectFrom('audit_events').select('session_id').where('at', '>=', cutoff);
    const position = this.dialect === 'postgres' ? sql<number>`audit_events.seq` : sql<number>`audit_events.id`;
    let q = this.db
      .selectFrom('audit_events')
      .select(sql<number | string | null>`min(${position})`.as('seq'))
      .where((eb) => ofSessions(eb, active, this.dialect));
    if (this.dialect === 'postgres') q = q.where(sql<string>`audit_events.chain`, '=', chain);
    const row = await q.executeTakeFirst();
    const firstKept = row?.seq === null || row?.seq === undefined ? head.seq : Number(row.seq);
    // The head always stays: the next append links to it.
    return Math.max(0, Math.min(firstKept, head.seq) - 1);
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

/** Runs the prune of one chain (`anchor.chain`) on a Kysely transaction (PostgreSQL). */
export async function pruneWithKysely(
  trx: Transaction<StoreSchema>,
  throughSeq: number,
  anchor: SignedCheckpoint,
): Promise<{ events: number; sessions: number }> {
  while ((await catchUpIn(trx)) > 0);
  await trx.insertInto('audit_checkpoints').values(checkpointRow(anchor)).execute();
  await sql`delete from audit_session_events where event_id in
    (select id from audit_events where chain = ${anchor.chain} and seq <= ${throughSeq})`.execute(trx);
  const events = await sql`delete from audit_events where chain = ${anchor.chain} and seq <= ${throughSeq}`.execute(
    trx,
  );
  const sessions = await sql.raw(PRUNE_STATEMENTS.deleteSessions).execute(trx);
  await sql.raw(PRUNE_STATEMENTS.deleteForensic).execute(trx);
  return { events: Number(events.numAffectedRows ?? 0), sessions: Number(sessions.numAffectedRows ?? 0) };
}

export function checkpointRow(c: SignedCheckpoint) {
  return {
    chain: c.chain,
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
    chain: row.chain,
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
