import type { ColumnType, Generated, Kysely, Migration, MigrationProvider } from 'kysely';

/** The SQL dialects the store runs on. Migrations are shared; only a few column types differ. */
export type StoreDialect = 'sqlite' | 'postgres';

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

export interface StoreSchema {
  audit_events: AuditEventsTable;
  sessions: SessionsTable;
}

interface NamedMigration {
  readonly name: string;
  up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
}

/**
 * Every schema change, in order. Names sort lexically (Kysely orders by name), so keep the numeric prefix.
 * Never edit a migration once released: add a new one.
 */
const MIGRATIONS: readonly NamedMigration[] = [
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
];

/** Kysely's Migrator reads migrations from a provider; ours are inline so they ship inside the bundle. */
export function migrationProvider(dialect: StoreDialect): MigrationProvider {
  return {
    async getMigrations() {
      const migrations: Record<string, Migration> = Object.create(null);
      for (const m of MIGRATIONS) migrations[m.name] = { up: (db) => m.up(db, dialect) };
      return migrations;
    },
  };
}

/** Our own bookkeeping tables, so a shared PostgreSQL database can hold other Kysely users' migrations too. */
export const MIGRATION_TABLES = {
  migrationTableName: 'gatehouse_migration',
  migrationLockTableName: 'gatehouse_migration_lock',
} as const;
