import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';

/** Replicas starting together on an empty PostgreSQL store: one migrates, the others wait for it and find it done. */
describe('PostgreSQL store: migrations when several replicas start at once', () => {
  let server: TestPostgres;

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  it('six stores migrating one empty database at the same moment all succeed, each migration applied once', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(server.url)));
    try {
      const results = await Promise.allSettled(stores.map((store) => store.migrate(FEATURE_MIGRATIONS)));
      assert.deepEqual(
        results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
        [],
      );
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string; n: number }>(
          'select name, count(*)::int as n from gatehouse_migration group by name order by name',
        );
        assert.ok(rows.length >= 8, `migrations recorded: ${rows.map((r) => r.name).join(', ')}`);
        assert.ok(
          rows.every((r) => r.n === 1),
          'each applied once',
        );
        assert.ok(rows.some((r) => r.name === '0110_review_holders'));
        const tables = await client.query(
          "select count(*)::int as n from information_schema.tables where table_name in ('reviews', 'gateway_instances', 'quota_usage')",
        );
        assert.equal(tables.rows[0]?.n, 3);
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
