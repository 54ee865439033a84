import type { StoreMigration } from '../store/migrations.js';
import { createInstanceTables } from './instance-tables.js';
import { createApprovalTables } from './review-tables.js';

/** The approvals' tables, registered with the store by the gateway's composition (src/gateway/store-migrations.ts). */
export const APPROVAL_MIGRATIONS: readonly StoreMigration[] = [
  // Just-in-time approval tables (review-tables.ts).
  { name: '0100_approvals', up: (db, dialect) => createApprovalTables(db, dialect) },
  // Gateway instances and their leases on held reviews (instance-tables.ts).
  { name: '0110_review_holders', up: (db) => createInstanceTables(db) },
];
