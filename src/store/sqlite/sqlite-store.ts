import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator } from 'kysely';
import type { AuditEventInput } from '../../core/audit-event.js';
import { GatehouseError } from '../../core/errors.js';
import { checkpointRow, PRUNE_STATEMENTS } from '../audit-tables.js';
import { type ChainLink, DEFAULT_CHAIN, serialiseEvents } from '../hash-chain.js';
import { KyselyStore } from '../kysely-store.js';
import {
  MIGRATION_TABLES,
  migrationFailure,
  migrationProvider,
  type StoreMigration,
  type StoreSchema,
} from '../migrations.js';
import { sessionIndexChanges } from '../session-index.js';
import type { PruneResult, SignedCheckpoint, Store } from '../store.js';
import { type AppendEvents, prepareAppend } from './append-transaction.js';
import { spoolDirectory } from './audit-spool.js';
import { applyConnectionSettings, PAGE_BYTES } from './connection-settings.js';
import { ImmediateSqliteDialect } from './immediate-dialect.js';
import { prepareIndexCatchUp } from './index-catch-up.js';
import { type DrainOptions, type DrainReport, drainUntilEmpty, prepareSpoolDrain } from './spool-drain.js';
import { type SpoolOptions, SpoolRecording } from './spool-recording.js';

export type { SpoolOptions } from './spool-recording.js';

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
  /** One process writes a SQLite file at a time (its lock), one chain. */
  readonly chain = DEFAULT_CHAIN;
  private append: AppendEvents | undefined;
  private indexCatchUp: Database.Transaction<() => number> | undefined;
  private drainHere: ((options?: DrainOptions) => DrainReport) | undefined;
  /** The gateway's store records through the spool once `startSpool` ran. */
  private recording: SpoolRecording | undefined;
  private closed = false;
  private readonly synchronous: 'NORMAL' | 'FULL';
  private readonly busyTimeoutMs: number;

  constructor(db: Database.Database, options: SqliteStoreOptions = {}) {
    super(new Kysely<StoreSchema>({ dialect: new ImmediateSqliteDialect({ database: db }) }), 'sqlite');
    this.db = db;
    this.synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';
    this.busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    // Takes effect only on a new, empty file (an existing one keeps its size). The audit log is appended in rows of
    // about 600 bytes: 16 KiB pages take fewer WAL writes and less of the spool thread's CPU per event
    // (bench/results/recording.md).
    db.pragma(`page_size = ${PAGE_BYTES}`);
    db.pragma('journal_mode = WAL');
    applyConnectionSettings(db, { synchronous: this.synchronous, busyTimeoutMs: this.busyTimeoutMs });
  }

  get indexesInBackground(): boolean {
    return this.recording !== undefined;
  }

  /** Opens (creating if needed) the database file and its directory. Call `migrate()` before use. */
  static async open(path: string, options?: SqliteStoreOptions): Promise<SqliteStore> {
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    return new SqliteStore(new Database(path), options);
  }

  async migrate(features: readonly StoreMigration[] = []): Promise<void> {
    const provider = migrationProvider('sqlite', features);
    const migrator = new Migrator({ db: this.kysely, provider, ...MIGRATION_TABLES });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      throw migrationFailure('SQLite', error, results);
    }
  }

  async appendEvents(events: readonly AuditEventInput[]): Promise<readonly ChainLink[]> {
    if (this.closed) throw new GatehouseError('internal', 'the SQLite store is closed');
    if (events.length === 0) return [];
    const serialised = serialiseEvents(events);
    const index = sessionIndexChanges(events);
    // Prepared after migrate(): statements are compiled against the tables.
    this.append ??= prepareAppend(this.db).transaction;
    return this.append(serialised, index);
  }

  /**
   * With a spool (see `startSpool`): one write to the spool, the log filled behind. Without: `appendEvents`. Either
   * way the events are durable, in order, when this resolves; checks run before anything is written.
   */
  async recordEvents(events: readonly AuditEventInput[]): Promise<void> {
    const recording = this.recording;
    if (recording === undefined) {
      await this.appendEvents(events);
      return;
    }
    if (this.closed) throw new GatehouseError('internal', 'the SQLite store is closed');
    if (events.length === 0) return;
    const serialised = serialiseEvents(events);
    sessionIndexChanges(events); // throws on a session start the drainer could not index
    recording.append(serialised);
  }

  /**
   * Moves whatever any writer spooled into the log, so reads that follow see every event recorded so far. A store on
   * a read-only or in-memory database has nothing to drain.
   */
  async settle(): Promise<void> {
    if (this.closed || this.db.memory || this.db.readonly) return;
    const directory = spoolDirectory(this.db.name);
    if (!hasEntries(directory)) return;
    this.drainHere ??= prepareSpoolDrain(this.db, directory);
    drainUntilEmpty(this.drainHere, {}, this.recording?.logger);
  }

  spoolBacklogBytes(): number | undefined {
    return this.recording?.backlogBytes;
  }

  /**
   * From now on `recordEvents` writes to a spool next to the database file (see audit-spool.ts), drained into the
   * log by a thread of its own (see spool-recording.ts); what earlier runs left in the spool is drained first. The
   * gateway's store, after `migrate()`.
   */
  async startSpool(options: SpoolOptions = {}): Promise<void> {
    if (this.recording || this.db.memory || this.db.readonly) return;
    await this.settle();
    const directory = spoolDirectory(this.db.name);
    this.drainHere ??= prepareSpoolDrain(this.db, directory);
    this.recording = await SpoolRecording.start(
      {
        path: this.db.name,
        directory,
        synchronous: this.synchronous,
        busyTimeoutMs: this.busyTimeoutMs,
        drainHere: this.drainHere,
      },
      options,
    );
  }

  async prune(throughId: number, anchor: SignedCheckpoint): Promise<PruneResult> {
    if (this.closed) throw new GatehouseError('internal', 'the SQLite store is closed');
    if (anchor.chain !== DEFAULT_CHAIN)
      throw new GatehouseError('internal', `a SQLite store has no chain ${anchor.chain}`);
    // better-sqlite3 directly, like appends: a Kysely transaction spans awaits, and an append in between would nest.
    const insert = this.db.prepare(
      `insert into audit_checkpoints (chain, event_id, hash, at, reason, key_id, signature)
       values (@chain, @event_id, @hash, @at, @reason, @key_id, @signature)`,
    );
    const catchUp = prepareIndexCatchUp(this.db);
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
    this.indexCatchUp ??= this.db.transaction(prepareIndexCatchUp(this.db));
    return this.indexCatchUp.immediate();
  }

  ping(): Promise<void> {
    return this.reader.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const recording = this.recording;
    this.recording = undefined;
    await recording?.close();
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

function hasEntries(directory: string): boolean {
  try {
    return readdirSync(directory).length > 0;
  } catch {
    return false;
  }
}
