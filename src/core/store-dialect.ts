/**
 * The SQL dialects the store runs on. Migrations are shared; only a few column types differ. In core/ because the
 * features that own tables (approvals, quotas) branch on it too.
 */
export type StoreDialect = 'sqlite' | 'postgres';
