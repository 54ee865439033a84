import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import { migrationProvider, type StoreMigration } from '../../src/store/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { temporaryDirectory } from '../support/temp-dir.js';

const dir = temporaryDirectory('gatehouse-feature-migrations-');
const noop = async () => {};

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("select name from sqlite_master where type = 'table' order by name").all() as {
      name: string;
    }[];
    return rows.map((r) => r.name);
  } finally {
    db.close();
  }
}

describe('feature migrations registered with the store at composition', () => {
  it('creates the approvals and quotas tables only when the opener registers them', async () => {
    const bare = join(dir, 'bare.db');
    const store = await SqliteStore.open(bare);
    await store.migrate();
    await store.close();
    assert.ok(tables(bare).includes('audit_events'));
    assert.ok(!tables(bare).includes('reviews'));
    assert.ok(!tables(bare).includes('quota_usage'));

    // A store opened first without features gains them when the gateway opens it later.
    const upgraded = await SqliteStore.open(bare);
    await upgraded.migrate(FEATURE_MIGRATIONS);
    await upgraded.close();
    for (const table of ['reviews', 'gateway_instances', 'quota_usage']) assert.ok(tables(bare).includes(table), table);
  });

  it('refuses to open a database whose feature tables the opener does not know, rather than run without them', async () => {
    const path = join(dir, 'gateway.db');
    const gateway = await SqliteStore.open(path);
    await gateway.migrate(FEATURE_MIGRATIONS);
    await gateway.close();
    const stranger = await SqliteStore.open(path);
    try {
      await assert.rejects(stranger.migrate(), /0100_approvals/);
    } finally {
      await stranger.close();
    }
  });

  it('rejects a feature migration named among the store’s own, and two with one name', () => {
    const early: StoreMigration = { name: '0050_sneaky', up: noop };
    assert.throws(() => migrationProvider('sqlite', [early]), /0050_sneaky sorts among the store's own/);
    const twice: StoreMigration[] = [
      { name: '0300_x', up: noop },
      { name: '0300_x', up: noop },
    ];
    assert.throws(() => migrationProvider('sqlite', twice), /two migrations are named 0300_x/);
    assert.throws(() => migrationProvider('sqlite', [...FEATURE_MIGRATIONS, ...FEATURE_MIGRATIONS]), /two migrations/);
  });
});
