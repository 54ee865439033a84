import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import type { AuditEventInput } from '../../audit/event.js';
import { GatehouseError } from '../../core/errors.js';
import { checkpointRow, PRUNE_STATEMENTS } from '../audit-tables.js';
import { type ChainLink, serialiseEvents } from '../hash-chain.js';
import { KyselyStore } from '../kysely-store.js';
import { MIGRATION_TABLES, migrationProvider, type StoreSchema } from '../migrations.js';
import { CATCH_UP_SQL, catchUpRange } from '../session-event-index.js';
import { sessionIndexChanges } from '../session-index.js';
import type { PruneResult, SignedCheckpoint, Store } from '../store.js';
import { type AppendTransaction, prepareAppend } from './append-transaction.js';

export interface SqliteStoreOptions {
  /**
   * `normal` (default): in WAL mode a commit is in the operating system's hands once it returns, so it survives the
   * gateway process crashing or being killed (SIGKILL, OOM), which is what the audit promises; only a power loss or
   * kernel crash can drop the last commits. `full` also fsyncs the WAL on every commit, surviving those too, at the
   * cost of one disk flush per group commit.
   */
  readonly synchronous?: 'normal' | 'full';
  /** How long to wait for another process's write lock before failing. */
  readonly busyTimeoutMs?: number;
}

/**
 * The embedded store: one SQLite file in WAL mode. Appends use better-sqlite3 directly (prepared statements in one
 * synchronous transaction, the hot path); migrations and reads go through Kysely, shared with the PostgreSQL store.
 */
export class SqliteStore extends KyselyStore implements Store {
  private readonly db: Database.Database;
  readonly dialect = 'sqlite' as const;
  private append: AppendTransaction | undefined;
  private indexCatchUp: Database.Transaction<() => number> | undefined;
  private closed = false;

  constructor(db: Database.Database, options: SqliteStoreOptions = {}) {
    super(new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: db }) }), 'sqlite');
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  }

  /** Opens (creating if needed) the database file and its directory. Call `migrate()` before use. */
  static async open(path: string, options?: SqliteStoreOptions): Promise<SqliteStore> {
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    return new SqliteStore(new Database(path), options);
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.kysely, provider: migrationProvider('sqlite'), ...MIGRATION_TABLES });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new GatehouseError('internal', `SQLite store migration ${failed ?? ''} failed`, { cause: error });
    }
  }

  async appendEvents(events: readonly AuditEventInput[]): Promise<readonly ChainLink[]> {
    if (this.closed) throw new GatehouseError('internal', 'the SQLite store is closed');
    if (events.length === 0) return [];
    const serialised = serialiseEvents(events);
    const index = sessionIndexChanges(events);
    // Prepared after migrate(): statements are compiled against the tables.
    this.append ??= prepareAppend(this.db);
    return this.append(serialised, index);
  }

  async prune(throughId: number, anchor: SignedCheckpoint): Promise<PruneResult> {
    if (this.closed) throw new GatehouseError('internal', 'the SQLite store is closed');
    // better-sqlite3 directly, like appends: a Kysely transaction spans awaits, and an append in between would nest.
    const insert = this.db.prepare(
      `insert into audit_checkpoints (event_id, hash, at, reason, key_id, signature)
       values (@event_id, @hash, @at, @reason, @key_id, @signature)`,
    );
    const catchUp = this.catchUp();
    const deleteEvents = this.db.prepare(PRUNE_STATEMENTS.deleteEvents);
    const deleteIndexed = this.db.prepare(PRUNE_STATEMENTS.deleteIndexed);
    const deleteSessions = this.db.prepare(PRUNE_STATEMENTS.deleteSessions);
    const deleteForensic = this.db.prepare(PRUNE_STATEMENTS.deleteForensic);
    const run = this.db.transaction((): PruneResult => {
      while (catchUp() > 0);
      insert.run(checkpointRow(anchor));
      const events = deleteEvents.run(throughId).changes;
      deleteIndexed.run(throughId);
      const sessions = deleteSessions.run().changes;
      deleteForensic.run();
      return { events, sessions };
    });
    return run.immediate();
  }

  async indexSessionEvents(): Promise<number> {
    if (this.closed) throw new GatehouseError('internal', 'the SQLite store is closed');
    this.indexCatchUp ??= this.db.transaction(this.catchUp());
    return this.indexCatchUp.immediate();
  }

  /** One catch-up of the session index, to run inside a write transaction (see session-event-index.ts). */
  private catchUp(): () => number {
    const cursor = this.db.prepare<[], { event_id: number }>(CATCH_UP_SQL.cursor);
    const head = this.db.prepare<[], { id: number | null }>(CATCH_UP_SQL.head);
    const index = this.db.prepare(CATCH_UP_SQL.index);
    const advance = this.db.prepare(CATCH_UP_SQL.advance);
    return () => {
      const range = catchUpRange(cursor.get()?.event_id, head.get()?.id);
      if (!range) return 0;
      index.run(range.from, range.through);
      advance.run(range.through);
      return range.through - range.from;
    };
  }

  ping(): Promise<void> {
    return this.reader.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A store that appended leaves the index at the head, so the next reader has no tail to scan (one that only read,
    // such as a CLI listing sessions, writes nothing). Best effort: reads are right either way.
    if (this.append !== undefined && this.db.open && !this.db.readonly) {
      try {
        while ((await this.indexSessionEvents()) > 0);
      } catch {
        // A locked or read-only file: the next writer catches up.
      }
    }
    this.closed = true;
    await this.kysely.destroy();
    // Kysely closes the handle only if it ever ran a query.
    if (this.db.open) this.db.close();
  }
}
