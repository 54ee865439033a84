import type { ColumnType } from 'kysely';

/** PostgreSQL returns bigint as a string, SQLite as a number. */
type BigIntColumn = ColumnType<number | string, number, number>;

/** One budget bucket in one fixed window: limits as configured when last reserved, usage and open reservations. */
export interface QuotaUsageTable {
  budget: string;
  /** `subject:<issuer> <sub>`, `group:<name>` or `claim:<value>`. */
  bucket: string;
  /** Epoch ms where the window starts (a multiple of window_ms). */
  window_start: BigIntColumn;
  window_ms: BigIntColumn;
  token_limit: BigIntColumn | null;
  request_limit: BigIntColumn | null;
  used_tokens: BigIntColumn;
  reserved_tokens: BigIntColumn;
  used_requests: BigIntColumn;
  reserved_requests: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface QuotaSchema {
  quota_usage: QuotaUsageTable;
}
