import type { Kysely } from 'kysely';
import type { StoreMigration } from '../store/migrations.js';

/** `0200_quota_usage`: one row per budget bucket and fixed window (see tables.ts). Same DDL on SQLite and PostgreSQL. */
async function createQuotaTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('quota_usage')
    .addColumn('budget', 'text', (c) => c.notNull())
    .addColumn('bucket', 'text', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('window_ms', 'bigint', (c) => c.notNull())
    .addColumn('token_limit', 'bigint')
    .addColumn('request_limit', 'bigint')
    .addColumn('used_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('reserved_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('used_requests', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('reserved_requests', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_usage_pk', ['budget', 'bucket', 'window_start'])
    .execute();
}

/** The quotas' tables, registered with the store by the gateway's composition (src/gateway/store-migrations.ts). */
export const QUOTA_MIGRATIONS: readonly StoreMigration[] = [
  { name: '0200_quota_usage', up: (db) => createQuotaTables(db) },
];
