import { APPROVAL_MIGRATIONS } from '../approvals/approval-migrations.js';
import { MCP_MIGRATIONS } from '../protocols/mcp/tool-pins-migration.js';
import { QUOTA_MIGRATIONS } from '../quotas/migration.js';
import type { StoreMigration } from '../store/migrations.js';

/**
 * The tables of every module that owns some, beyond the store's own: what the gateway and every CLI command that
 * opens its store pass to `migrate`. One list, because Kysely refuses a database that ran a migration the opener
 * does not know.
 */
export const FEATURE_MIGRATIONS: readonly StoreMigration[] = [
  ...APPROVAL_MIGRATIONS,
  ...QUOTA_MIGRATIONS,
  ...MCP_MIGRATIONS,
];
