import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { AuditEventInput } from '../../audit/event.js';
import { GatehouseError } from '../../core/errors.js';
import { pruneWithKysely } from '../audit-tables.js';
import { type ChainHead, type ChainLink, chainEvents } from '../hash-chain.js';
import { KyselyStore } from '../kysely-store.js';
import { MIGRATION_TABLES, migrationProvider, type StoreSchema } from '../migrations.js';
import { catchUpIn } from '../session-event-index.js';
import { sessionIndexChanges } from '../session-index.js';
import type { PruneResult, SignedCheckpoint, Store } from '../store.js';

/**
 * Advisory lock keys (arbitrary constants, "gatehou" and "gatemig" in ASCII). Every replica appending to the chain
 * takes the first for the length of its transaction, so the chain is extended by one writer at a time.
 */
const APPEND_LOCK = 0x67617465686f75n;
const MIGRATE_LOCK = 0x676174656d6967n;

export interface PostgresStoreOptions {
  /** Most pooled connections; appends hold one for a few round trips, reads for one query. */
  readonly maxConnections?: number;
}

/**
 * The shared store for several gateway replicas: the same tables and migrations as the SQLite store, on a `pg` pool.
 * Reads go through Kysely; appends use raw SQL with array parameters so a whole batch costs four round trips.
 */
export class PostgresStore extends KyselyStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly indexesInBackground = false;
  private closed = false;

  constructor(private readonly pool: pg.Pool) {
    super(new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
    // An idle client whose connection dies is dropped by the pool; without a listener the error would crash the
    // process. The next query then fails, and the recorder refuses the operation.
    pool.on('error', () => undefined);
    // The same for a client checked out when the server goes away: pg emits `error` on it besides failing its query,
    // and the pool listens only while the client is idle. Its query's rejection is what reaches the caller.
    pool.on('connect', (client) => client.on('error', () => undefined));
  }

  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    return new PostgresStore(new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10 }));
  }

  async migrate(): Promise<void> {
    // Replicas starting together would race to create the migration tables; one migrates, the others then find
    // nothing to do. The lock is held on its own connection while Kysely migrates on another.
    const client = await this.pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATE_LOCK.toString()]);
      try {
        const migrator = new Migrator({
          db: this.kysely,
          provider: migrationProvider('postgres'),
          ...MIGRATION_TABLES,
        });
        const { error, results } = await migrator.migrateToLatest();
        if (error) {
          const failed = results?.find((r) => r.status === 'Error')?.migrationName;
          throw new GatehouseError('internal', `PostgreSQL store migration ${failed ?? ''} failed`, { cause: error });
        }
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATE_LOCK.toString()]);
      }
    } finally {
      client.release();
    }
  }

  async recordEvents(events: readonly AuditEventInput[]): Promise<void> {
    await this.appendEvents(events);
  }

  /** Appends write the log itself: nothing is held elsewhere. */
  async settle(): Promise<void> {}

  async appendEvents(events: readonly AuditEventInput[]): Promise<readonly ChainLink[]> {
    if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
    if (events.length === 0) return [];
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      try {
        // The lock is taken in its own statement, before the head is read: under READ COMMITTED each statement sees
        // what was committed before it started, so the next statement sees the previous holder's events.
        await client.query(`begin; select pg_advisory_xact_lock(${APPEND_LOCK})`);
        const head = await client.query<{ id: string; hash: string }>(
          'select id, hash from audit_events order by id desc limit 1',
        );
        const last = head.rows[0];
        const chainHead: ChainHead | undefined = last ? { id: Number(last.id), hash: last.hash } : undefined;
        const chained = chainEvents(chainHead, events);
        const { starts, deltas } = sessionIndexChanges(events);
        await client.query(APPEND_SQL, [
          chained.map((e) => e.id),
          chained.map((e) => e.sessionId),
          chained.map((e) => e.type),
          chained.map((e) => e.at),
          chained.map((e) => e.payloadJson),
          chained.map((e) => e.prevHash),
          chained.map((e) => e.hash),
          starts.map((s) => s.id),
          starts.map((s) => s.protocol),
          starts.map((s) => s.resource),
          starts.map((s) => s.issuer),
          starts.map((s) => s.subject),
          starts.map((s) => s.groups),
          starts.map((s) => s.startedAt),
          starts.map((s) => s.endedAt),
          deltas.map((d) => d.id),
          deltas.map((d) => d.endedAt),
        ]);
        await client.query('commit');
        return chained.map(({ id, prevHash, hash }) => ({ id, prevHash, hash }));
      } catch (error) {
        await client.query('rollback').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      }
    } finally {
      // A connection that could not roll back is discarded rather than returned to the pool mid-transaction.
      client.release(broken);
    }
  }

  async prune(throughId: number, anchor: SignedCheckpoint): Promise<PruneResult> {
    if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
    return this.kysely.transaction().execute((trx) => pruneWithKysely(trx, throughId, anchor));
  }

  async indexSessionEvents(): Promise<number> {
    if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
    return this.kysely.transaction().execute(catchUpIn);
  }

  ping(): Promise<void> {
    return this.reader.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ends the pool too.
    await this.kysely.destroy();
  }
}

/**
 * One statement writes the batch: the events, the sessions it starts (with the batch's counts folded in, since the
 * parts of one statement cannot see each other's rows) and the counts of sessions started earlier.
 */
const APPEND_SQL = `
with inserted_events as (
  insert into audit_events (id, session_id, type, at, payload, prev_hash, hash)
  select * from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])
), started_sessions as (
  insert into sessions (id, protocol, resource, issuer, subject, groups, started_at, ended_at)
  select * from unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[],
    $15::bigint[])
  on conflict (id) do update set ended_at = coalesce(excluded.ended_at, sessions.ended_at)
), ended_sessions as (
  update sessions set ended_at = coalesce(d.ended_at, sessions.ended_at)
  from unnest($16::text[], $17::bigint[]) as d(id, ended_at)
  where sessions.id = d.id
)
select 1`;
