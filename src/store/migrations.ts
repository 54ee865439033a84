import {
  type ColumnType,
  type Generated,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResult,
  sql,
} from 'kysely';
import { GatehouseError } from '../core/errors.js';
import type { StoreDialect } from '../core/store-dialect.js';

/** Row shapes as the drivers return them: PostgreSQL returns bigint as a string, SQLite as a number. */
type BigIntColumn = ColumnType<number | string, number, number>;

export interface AuditEventsTable {
  id: BigIntColumn;
  session_id: string;
  type: string;
  at: BigIntColumn;
  /** The exact JSON text that was hashed. */
  payload: string;
  prev_hash: string;
  hash: string;
}

/**
 * PostgreSQL only (see 0006_instance_chains): the chain (gateway instance) an event belongs to and its position in
 * it. A SQLite store has one chain, `default`, whose positions are the row ids, so it stores neither.
 */
export interface AuditEventsChainColumns {
  chain: string;
  seq: BigIntColumn;
}

/** Every chain in the store, with how far the session index has read it (positions in the chain). */
export interface AuditChainsTable {
  chain: string;
  indexed_seq: BigIntColumn;
}

/** Continuous export: the last position in each chain each sink acknowledged. */
export interface ExportChainCursorsTable {
  sink: string;
  chain: string;
  seq: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface SessionsTable {
  id: string;
  protocol: string;
  resource: string | null;
  issuer: string;
  subject: string;
  /** JSON array of group names. */
  groups: string;
  started_at: BigIntColumn;
  ended_at: BigIntColumn | null;
  operations: Generated<number>;
  denied: Generated<number>;
}

/** Signed statements "the chain reached event `event_id` with hash `hash`", written by the gateway. */
export interface AuditCheckpointsTable {
  id: Generated<number>;
  /** The chain it signs (`default` for checkpoints written before chains were per instance). */
  chain: Generated<string>;
  /** The position in that chain of the event signed. */
  event_id: BigIntColumn;
  hash: string;
  at: BigIntColumn;
  /** Why it was written: `periodic`, `shutdown`, `prune` (anchors the first kept event). */
  reason: string;
  key_id: string;
  /** base64 Ed25519 signature over the canonical checkpoint text. */
  signature: string;
}

/** Continuous export: the last event each sink acknowledged. */
export interface ExportCursorsTable {
  sink: string;
  event_id: BigIntColumn;
  updated_at: BigIntColumn;
}

/** Encrypted, unmasked responses, one per operation, readable by auditors only. */
export interface ForensicCopiesTable {
  session_id: string;
  seq: number;
  at: BigIntColumn;
  /** base64 of iv, tag and ciphertext (AES-256-GCM). */
  iv: string;
  tag: string;
  ciphertext: string;
}

/**
 * Which events belong to which session, built in bulk behind the log (session-event-index.ts) rather than in every
 * append: an index on audit_events(session_id) made each group commit write one index page per active session.
 */
export interface AuditSessionEventsTable {
  session_id: string;
  event_id: BigIntColumn;
}

/** How far a bulk-built index has read the log (the `sessions` row: audit_session_events). */
export interface AuditIndexCursorsTable {
  name: string;
  event_id: BigIntColumn;
}

/**
 * How far each audit spool segment (SQLite: see sqlite/audit-spool.ts) has been moved into the log, in bytes; the
 * row advances in the same commit as the events it moved.
 */
export interface AuditSpoolCursorsTable {
  segment: string;
  applied: BigIntColumn;
}

export interface StoreSchema {
  audit_events: AuditEventsTable;
  audit_chains: AuditChainsTable;
  export_chain_cursors: ExportChainCursorsTable;
  audit_spool_cursors: AuditSpoolCursorsTable;
  audit_session_events: AuditSessionEventsTable;
  audit_index_cursors: AuditIndexCursorsTable;
  sessions: SessionsTable;
  audit_checkpoints: AuditCheckpointsTable;
  export_cursors: ExportCursorsTable;
  forensic_copies: ForensicCopiesTable;
}

/**
 * One schema change. Names sort lexically (Kysely orders by name), so keep the numeric prefix. Never edit a migration
 * once released: add a new one.
 */
export interface StoreMigration {
  readonly name: string;
  up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
}

/** The store's own tables (the audit log and what serves it), 0001 to 0099. */
const CORE_MIGRATIONS: readonly StoreMigration[] = [
  {
    name: '0001_audit_events',
    async up(db, dialect) {
      // SQLite makes `integer primary key` an alias of the rowid (no second index); PostgreSQL needs 64 bits.
      const idType = dialect === 'sqlite' ? 'integer' : 'bigint';
      await db.schema
        .createTable('audit_events')
        .addColumn('id', idType, (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_session_id').on('audit_events').columns(['session_id', 'id']).execute();
    },
  },
  {
    name: '0002_sessions',
    async up(db) {
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('resource', 'text')
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('operations', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('denied', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('sessions_started_at').on('sessions').column('started_at').execute();
    },
  },
  {
    name: '0003_audit_checkpoints_export_forensic',
    async up(db, dialect) {
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('id', dialect === 'sqlite' ? 'integer' : 'serial', (c) =>
          dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('event_id', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('export_cursors')
        .addColumn('sink', 'text', (c) => c.primaryKey())
        .addColumn('event_id', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('forensic_copies')
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('iv', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('forensic_copies_pk', ['session_id', 'seq'])
        .execute();
    },
  },
  {
    // The per-session index moves out of the append path: see AuditSessionEventsTable.
    name: '0004_session_events_behind_the_log',
    async up(db, dialect) {
      const idType = dialect === 'sqlite' ? 'integer' : 'bigint';
      await db.schema
        .createTable('audit_session_events')
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('event_id', idType, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_session_events_pk', ['session_id', 'event_id'])
        // SQLite: the primary key is the table (one b-tree, not a rowid table plus an index).
        .$call((t) => (dialect === 'sqlite' ? t.modifyEnd(sql`without rowid`) : t))
        .execute();
      await db.schema
        .createTable('audit_index_cursors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('event_id', idType, (c) => c.notNull())
        .execute();
      await sql`insert into audit_session_events (session_id, event_id) select session_id, id from audit_events`.execute(
        db,
      );
      await sql`insert into audit_index_cursors (name, event_id)
        values ('sessions', coalesce((select max(id) from audit_events), 0))`.execute(db);
      await db.schema.dropIndex('audit_events_session_id').execute();
    },
  },
  {
    // Only the SQLite store spools; the table is created on both so one schema describes every store.
    name: '0005_audit_spool_cursors',
    async up(db) {
      await db.schema
        .createTable('audit_spool_cursors')
        .addColumn('segment', 'text', (c) => c.primaryKey())
        .addColumn('applied', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    // One hash chain per gateway instance (see postgres/chain-writer.ts). Existing events become the `default` chain,
    // whose positions are their ids, so their hashes and checkpoints verify unchanged.
    name: '0006_instance_chains',
    async up(db, dialect) {
      await db.schema
        .createTable('audit_chains')
        .addColumn('chain', 'text', (c) => c.primaryKey())
        .addColumn('indexed_seq', 'bigint', (c) => c.notNull())
        .execute();
      await sql`insert into audit_chains (chain, indexed_seq)
        values ('default', coalesce((select event_id from audit_index_cursors where name = 'sessions'), 0))`.execute(
        db,
      );
      await db.schema
        .alterTable('audit_checkpoints')
        .addColumn('chain', 'text', (c) => c.notNull().defaultTo('default'))
        .execute();
      await db.schema
        .createTable('export_chain_cursors')
        .addColumn('sink', 'text', (c) => c.notNull())
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('export_chain_cursors_pk', ['sink', 'chain'])
        .execute();
      await sql`insert into export_chain_cursors (sink, chain, seq, updated_at)
        select sink, 'default', event_id, updated_at from export_cursors`.execute(db);
      if (dialect !== 'postgres') return;
      // Row ids come from a sequence (no lock between instances); the chain's own positions are gapless.
      await sql`alter table audit_events add column chain text not null default 'default', add column seq bigint`.execute(
        db,
      );
      await sql`update audit_events set seq = id`.execute(db);
      await sql`alter table audit_events alter column seq set not null`.execute(db);
      await sql`create unique index audit_events_chain_seq on audit_events (chain, seq)`.execute(db);
      await sql`create sequence audit_events_id_seq owned by audit_events.id`.execute(db);
      await sql`select setval('audit_events_id_seq', coalesce((select max(id) from audit_events), 0) + 1, false)`.execute(
        db,
      );
      await sql`alter table audit_events alter column id set default nextval('audit_events_id_seq')`.execute(db);
    },
  },
];

/** Feature migrations are numbered from 0100 (0100 approvals, 0200 quotas...), after the store's own. */
const FIRST_FEATURE_NAME = '0100';

/**
 * Kysely's Migrator reads migrations from a provider; ours are inline so they ship inside the bundle. `features` are
 * the tables of the modules that own them (approvals, quotas), registered by whoever composes the gateway, so the
 * store never imports a feature. Every opener of one database must pass the same features: Kysely refuses to run
 * when a migration it once applied is missing.
 */
export function migrationProvider(dialect: StoreDialect, features: readonly StoreMigration[] = []): MigrationProvider {
  const migrations: Record<string, Migration> = Object.create(null);
  for (const m of CORE_MIGRATIONS) migrations[m.name] = { up: (db) => m.up(db, dialect) };
  for (const m of features) {
    if (m.name < FIRST_FEATURE_NAME) throw new Error(`feature migration ${m.name} sorts among the store's own`);
    if (m.name in migrations) throw new Error(`two migrations are named ${m.name}`);
    migrations[m.name] = { up: (db) => m.up(db, dialect) };
  }
  return {
    async getMigrations() {
      return migrations;
    },
  };
}

/**
 * The error a failed `migrate` throws: the migration that failed, if one ran, and the reason (e.g. that the database
 * ran a feature migration this opener did not register).
 */
export function migrationFailure(
  store: string,
  error: unknown,
  results: readonly MigrationResult[] | undefined,
): GatehouseError {
  const failed = results?.find((r) => r.status === 'Error')?.migrationName;
  const message = error instanceof Error ? error.message : String(error);
  const reason = failed === undefined ? message : `${failed}: ${message}`;
  return new GatehouseError('internal', `${store} store migration failed: ${reason}`, { cause: error });
}

/** Our own bookkeeping tables, so a shared PostgreSQL database can hold other Kysely users' migrations too. */
export const MIGRATION_TABLES = {
  migrationTableName: 'gatehouse_migration',
  migrationLockTableName: 'gatehouse_migration_lock',
  // Feature migrations are numbered in ranges (0003 audit, 0100 approvals, 0200 quotas): a database that already
  // ran a later range must still accept a new migration in an earlier one.
  allowUnorderedMigrations: true,
} as const;
