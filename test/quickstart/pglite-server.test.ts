import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PgliteServer } from '../../src/quickstart/pglite-server.js';
import { openVectorsDatabase, SEED_DOCUMENTS } from '../../src/quickstart/vectors-database.js';

/** The quickstart's PGlite front: md5 login with the resource credential, one session at a time, state reset between. */
describe('PgliteServer', () => {
  let db: PGlite;
  let server: PgliteServer;
  let address: { host: string; port: number };
  const config = (password = 'right-password') => ({ ...address, user: 'postgres', password, database: 'vectors' });

  before(async () => {
    db = await openVectorsDatabase();
    server = new PgliteServer({
      db,
      host: '127.0.0.1',
      port: 0,
      user: 'postgres',
      password: 'right-password',
      queueTimeoutMs: 1_500,
    });
    address = await server.start();
  });
  after(async () => {
    await server?.stop();
    await db?.close();
  });

  test('the seed is there: documents with 3-dimensional embeddings', async () => {
    const client = new pg.Client(config());
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT count(*)::int AS n, max(vector_dims(embedding)) AS dims FROM documents',
      );
      assert.deepEqual(rows[0], { n: SEED_DOCUMENTS.length, dims: 3 });
    } finally {
      await client.end();
    }
  });

  test('a wrong password or another user is refused with 28P01', async () => {
    for (const attempt of [config('wrong'), { ...config(), user: 'someone' }]) {
      const client = new pg.Client(attempt);
      client.on('error', () => undefined);
      await assert.rejects(client.connect(), (error: { code?: string }) => error.code === '28P01');
    }
  });

  test('a second session waits for the first, and does not inherit its settings, statements or transaction', async () => {
    const first = new pg.Client(config());
    await first.connect();
    await first.query("SET application_name = 'first'");
    await first.query({ name: 'mine', text: 'SELECT 1 AS one' });
    await first.query('BEGIN');
    await first.query("INSERT INTO documents VALUES (50, 't', 't', 'b', '[1,1,1]')");
    const second = new pg.Client(config());
    let secondConnected = false;
    const connecting = second.connect().then(() => {
      secondConnected = true;
    });
    // The first session still answers while the second waits in the queue.
    assert.equal((await first.query('SELECT count(*)::int AS n FROM documents')).rows[0].n, SEED_DOCUMENTS.length + 1);
    assert.equal(secondConnected, false);
    await first.end();
    await connecting;
    try {
      assert.equal((await second.query('SHOW application_name')).rows[0].application_name, '');
      assert.equal((await second.query('SELECT count(*) AS n FROM pg_prepared_statements')).rows[0].n, '0');
      assert.equal((await second.query('SELECT count(*)::int AS n FROM documents')).rows[0].n, SEED_DOCUMENTS.length);
    } finally {
      await second.end();
    }
  });

  test('a session that waits longer than the queue timeout is refused with 53300', async () => {
    const holder = new pg.Client(config());
    await holder.connect();
    try {
      const waiter = new pg.Client(config());
      waiter.on('error', () => undefined);
      await assert.rejects(waiter.connect(), (error: { code?: string }) => error.code === '53300');
    } finally {
      await holder.end();
    }
    // The queue moves on: a new session gets in.
    const next = new pg.Client(config());
    await next.connect();
    assert.equal((await next.query('SELECT 1 AS one')).rows[0].one, 1);
    await next.end();
  });
});
