import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { AuditEventInput } from '../../core/audit-event.js';
import { GatehouseError } from '../../core/errors.js';
import { pruneWithKysely } from '../audit-tables.js';
import {
  CHAIN_NAME,
  type ChainHead,
  type ChainLink,
  chainSerialised,
  DEFAULT_CHAIN,
  serialiseEvents,
} from '../hash-chain.js';
import { KyselyStore } from '../kysely-store.js';
import {
  MIGRATION_TABLES,
  migrationFailure,
  migrationProvider,
  type StoreMigration,
  type StoreSchema,
} from '../migrations.js';
import { catchUpIn } from '../session-event-index.js';
import { sessionIndexChanges } from '../session-index.js';
import type { PruneResult, SignedCheckpoint, Store } from '../store.js';
import { ChainThread } from './chain-thread.js';
import { appendStatement, CHAIN_LOCK_SQL, ChainWriter } from './chain-writer.js';

/** Advisory lock key for migrations (an arbitrary constant, "gatemig" in ASCII). Chains have their own keys. */
const MIGRATE_LOCK = 0x676174656d6967n;

export interface PostgresStoreOptions {
  /** Most pooled connections, for reads, the session index and unclaimed appends (a claimed chain has its own). */
  readonly maxConnections?: number;
  /** The chain this store appends to: the gateway instance's id (default: `default`). */
  readonly chain?: string;
}

/**
 * The shared store for several gateway replicas: the same tables and migrations as the SQLite store, on a `pg` pool.
 * Reads go through Kysely. Each gateway instance appends to its own hash chain (`chain`) through a ChainWriter (one
 * statement, one round trip per batch, no lock shared with other replicas); see `claimChain`.
 */
export class PostgresStore extends KyselyStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly indexesInBackground = false;
  readonly chain: string;
  private closed = false;
  /** The claimed chain's writer thread, or the writer on this thread (without the thread, or once it stopped). */
  private thread: ChainThread | undefined;
  private writer: ChainWriter | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    chain: string = DEFAULT_CHAIN,
  ) {
    super(new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
    // An idle client whose connection dies is dropped by the pool; without a listener the error would crash the
    // process. The next query then fails, and the recorder refuses the operation.
    pool.on('error', () => undefined);
    // The same for a client checked out when the server goes away: pg emits `error` on it besides failing its query,
    // and the pool listens only while the client is idle. Its query's rejection is what reaches the caller.
    pool.on('connect', (client) => client.on('error', () => undefined));
    if (!CHAIN_NAME.test(chain)) {
      throw new GatehouseError('config.invalid', 'store.instanceId: expected letters, digits, ., _ or - (at most 63)');
    }
    this.chain = chain;
  }

  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    return new PostgresStore(
      new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10 }),
      url,
      options.chain ?? DEFAULT_CHAIN,
    );
  }

  async migrate(features: readonly StoreMigration[] = []): Promise<void> {
    const provider = migrationProvider('postgres', features);
    // Replicas starting together would race to create the migration tables; one migrates, the others then find
    // nothing to do. The lock is held on its own connection while Kysely migrates on another.
    const client = await this.pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATE_LOCK.toString()]);
      try {
        const migrator = new Migrator({
          db: this.kysely,
          provider,
          ...MIGRATION_TABLES,
        });
        const { error, results } = await migrator.migrateToLatest();
        if (error) {
          throw migrationFailure('PostgreSQL', error, results);
        }
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATE_LOCK.toString()]);
      }
    } finally {
      client.release();
    }
  }

  /**
   * From now on this store appends to its chain through a ChainWriter holding the chain's lock for the process's
   * life (the gateway's store), on a thread of its own (chain-thread.ts) if `thread`; refuses, clearly,
   * if another process holds it. Without a claim (CLI commands, tests) each append takes the chain's lock for its
   * own transaction and reads the head (four round trips).
   */
  async claimChain(options: { readonly thread?: boolean } = {}): Promise<void> {
    if (this.thread || this.writer) return;
    if (options.thread === true) {
      const thread = await ChainThread.start(this.url, this.chain);
      if (thread) {
        this.thread = thread;
        return;
      }
    }
    const writer = new ChainWriter(this.url, this.chain);
    await writer.claim();
    this.writer = writer;
  }

  /** Whether appends go through the writer's thread (false once it stopped, or if it never started). */
  get writesOnThread(): boolean {
    return this.thread?.running ?? false;
  }

  async recordEvents(events: readonly AuditEventInput[]): Promise<void> {
    await this.append(events, false);
  }

  /** Appends write the log itself: nothing is held elsewhere. */
  async settle(): Promise<void> {}

  async appendEvents(events: readonly AuditEventInput[]): Promise<readonly ChainLink[]> {
    return (await this.append(events, true)) ?? [];
  }

  /** Appends a batch; its links only if `links` (the recorder needs none: they would cross threads for nothing). */
  private async append(events: readonly AuditEventInput[], links: boolean): Promise<readonly ChainLink[] | undefined> {
    if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
    if (events.length === 0) return [];
    // Serialised here, before anything is queued: a payload that is not JSON fails its batch alone, and a payload
    // the recorder may still amend is captured as it is now. Chaining and writing follow, on the writer's thread if any.
    const serialised = serialiseEvents(events);
    const index = sessionIndexChanges(events);
    if (this.thread?.running) return this.thread.append(serialised, index, links);
    // The thread stopped on its own: write here from now on (the writer claims the chain on its first append).
    if (this.thread && !this.writer) this.writer = new ChainWriter(this.url, this.chain);
    if (this.writer) return this.writer.append(serialised, index);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      try {
        // The lock is taken in its own statement, before the head is read: under READ COMMITTED each statement sees
        // what was committed before it started, so the next statement sees the previous holder's events.
        await client.query('begin');
        await client.query(`select pg_advisory_xact_lock(${CHAIN_LOCK_SQL})`, [this.chain]);
        await client.query(
          'insert into audit_chains (chain, indexed_seq) values ($1, 0) on conflict (chain) do nothing',
          [this.chain],
        );
        const head = await client.query<{ seq: string; hash: string }>(
          'select seq, hash from audit_events where chain = $1 order by seq desc limit 1',
          [this.chain],
        );
        const last = head.rows[0];
        const chainHead: ChainHead | undefined = last ? { seq: Number(last.seq), hash: last.hash } : undefined;
        const chained = chainSerialised(chainHead, serialised, this.chain);
        const result = await client.query<{ id: string; seq: string }>(appendStatement(chained, index, this.chain));
        await client.query('commit');
        const ids = new Map(result.rows.map((r) => [Number(r.seq), Number(r.id)]));
        return chained.map(({ seq, prevHash, hash }) => ({
          id: ids.get(seq) as number,
          chain: this.chain,
          seq,
          prevHash,
          hash,
        }));
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

  async prune(throughSeq: number, anchor: SignedCheckpoint): Promise<PruneResult> {
    if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
    return this.kysely.transaction().execute((trx) => pruneWithKysely(trx, throughSeq, anchor));
  }

  async indexSessionEvents(): Promise<number> {
    if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
    return this.kysely.transaction().execute((trx) => catchUpIn(trx, true));
  }

  ping(): Promise<void> {
    return this.reader.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ending the writer's connection releases the chain's lock.
    await this.thread?.close();
    await this.writer?.close();
    // Ends the pool too.
    await this.kysely.destroy();
  }
}
