import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

/**
 * Kysely's SQLite dialect with transactions that take the write lock when they begin (BEGIN IMMEDIATE). Kysely's
 * own begins deferred: a transaction that reads and then writes (a review's decision, a quota reservation) asks
 * for the lock only at its first write, and in WAL mode that fails at once (SQLITE_BUSY, no wait) when another
 * connection committed since its read, as the spool thread does every 100 ms. Up front, it waits its turn instead.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
