import type { ColumnType, Kysely } from 'kysely';

/** bigint columns: PostgreSQL returns them as strings, SQLite as numbers. */
type BigIntColumn = ColumnType<number | string, number, number>;

/**
 * One running (or stopped) gateway process on this store. Its heartbeat is the lease on the reviews it holds
 * callers for: a review whose holder stopped beating has nobody left to run for, and is withdrawn.
 */
export interface GatewayInstancesTable {
  id: string;
  host: string;
  pid: number;
  started_at: BigIntColumn;
  heartbeat_at: BigIntColumn;
  stopped_at: BigIntColumn | null;
  /**
   * Audit events this instance refused (their operations did not run, or their results were withheld) because the
   * store refused the write: persisted once the store accepts writes again, so the refusals leave a trace.
   */
  refused_events: BigIntColumn;
}

/** Which instance holds a caller waiting on a review (`reviews.holder`); null when no caller waits on it. */
export interface ReviewHolderColumn {
  holder: string | null;
}

export interface InstanceSchema {
  gateway_instances: GatewayInstancesTable;
}

/** Migration `0110_review_holders` (approval-migrations.ts). Never edit once released. */
export async function createInstanceTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('gateway_instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
    .addColumn('stopped_at', 'bigint')
    .addColumn('refused_events', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('reviews').addColumn('holder', 'text').execute();
  await db.schema.createIndex('reviews_holder').on('reviews').columns(['holder', 'state']).execute();
}
