import type { ColumnType, Kysely } from 'kysely';
import type { StoreDialect } from '../core/store-dialect.js';
import type { GatewayInstancesTable } from './instance-tables.js';

/** bigint columns: PostgreSQL returns them as strings, SQLite as numbers. */
type BigIntColumn = ColumnType<number | string, number, number>;

/** One review: a held operation or a requested access window. JSON columns hold arrays and small objects as text. */
export interface ReviewsTable {
  id: string;
  kind: string;
  state: string;
  requester_issuer: string;
  requester_subject: string;
  requester_groups: string;
  requester_token_id: string;
  session_id: string;
  resource: string;
  /** JSON ReviewedOperation (text, bounded body excerpt, body digest). */
  operation: string;
  /** JSON ReviewCause. */
  cause: string;
  approver_groups: string;
  approvals_required: number;
  fingerprint: string;
  request_reason: string | null;
  /** JSON AccessRequest for `access` reviews. */
  access: string | null;
  created_at: BigIntColumn;
  expires_at: BigIntColumn;
  decided_at: BigIntColumn | null;
  valid_until: BigIntColumn | null;
  executed_at: BigIntColumn | null;
  /** Bumped on every change, so pollers can read only what changed. */
  updated_at: BigIntColumn;
  /** The gateway instance holding the caller that waits on it (migration 0110, see instance-tables.ts). */
  holder: string | null;
}

/** One approver's decision; the primary key makes approvals distinct per approver. */
export interface ReviewDecisionsTable {
  review_id: string;
  approver_issuer: string;
  approver_subject: string;
  approver_groups: string;
  verdict: string;
  reason: string | null;
  via: string;
  at: BigIntColumn;
}

/** Signatures of inbound decision webhooks already accepted, kept for the timestamp window: replays are refused. */
export interface WebhookNoncesTable {
  nonce: string;
  seen_at: BigIntColumn;
}

export interface ApprovalsSchema {
  gateway_instances: GatewayInstancesTable;
  reviews: ReviewsTable;
  review_decisions: ReviewDecisionsTable;
  webhook_nonces: WebhookNoncesTable;
}

/** Migration `0100_approvals` (approval-migrations.ts). Never edit once released; add a new one. */
export async function createApprovalTables(db: Kysely<unknown>, _dialect: StoreDialect): Promise<void> {
  await db.schema
    .createTable('reviews')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('requester_issuer', 'text', (c) => c.notNull())
    .addColumn('requester_subject', 'text', (c) => c.notNull())
    .addColumn('requester_groups', 'text', (c) => c.notNull())
    .addColumn('requester_token_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('cause', 'text', (c) => c.notNull())
    .addColumn('approver_groups', 'text', (c) => c.notNull())
    .addColumn('approvals_required', 'integer', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('request_reason', 'text')
    .addColumn('access', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .addColumn('valid_until', 'bigint')
    .addColumn('executed_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('reviews_state_expires').on('reviews').columns(['state', 'expires_at']).execute();
  await db.schema.createIndex('reviews_fingerprint').on('reviews').columns(['fingerprint', 'state']).execute();
  await db.schema.createIndex('reviews_updated_at').on('reviews').column('updated_at').execute();
  await db.schema
    .createTable('review_decisions')
    .addColumn('review_id', 'text', (c) => c.notNull())
    .addColumn('approver_issuer', 'text', (c) => c.notNull())
    .addColumn('approver_subject', 'text', (c) => c.notNull())
    .addColumn('approver_groups', 'text', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('review_decisions_pk', ['review_id', 'approver_issuer', 'approver_subject'])
    .execute();
  await db.schema
    .createTable('webhook_nonces')
    .addColumn('nonce', 'text', (c) => c.primaryKey())
    .addColumn('seen_at', 'bigint', (c) => c.notNull())
    .execute();
}
