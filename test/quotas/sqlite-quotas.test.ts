import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { quotaContract } from './quota-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-quotas-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

quotaContract('SQLite', async () => {
  const path = join(dir, `quotas-${++n}.db`);
  return async () => {
    const store = await SqliteStore.open(path);
    await store.migrate(FEATURE_MIGRATIONS);
    return store;
  };
});
