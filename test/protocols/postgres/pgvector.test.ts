import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { SEED_DOCUMENTS, vectorLiteral } from '../../../src/quickstart/vectors-database.js';
import { type QuickstartGateway, startQuickstartGateway } from '../../quickstart/quickstart-gateway.js';

const NEAREST =
  'SELECT id, tenant_id, title, embedding::text AS embedding FROM documents ORDER BY embedding <-> $1 LIMIT $2';

/** Runs `fn` on one client and always ends it: PGlite serves one session at a time, so the next waits for this one. */
async function withClient<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** pgvector behind the gateway: nearest-neighbour queries answer exactly as PGlite answers them directly. */
describe('pgvector through the gateway (PGlite)', () => {
  let qs: QuickstartGateway;
  let reader: string;

  before(async () => {
    qs = await startQuickstartGateway();
    reader = await qs.mint('rag-worker', ['rag-readers']);
  });
  after(() => qs?.stop());

  for (const [label, probe, k] of [
    ['refunds', [1, 0, 0], 3],
    ['shipping', [0, 1, 0], 2],
    ['retention', [0, 0, 1], 4],
    ['everything', [0.3, 0.3, 0.3], SEED_DOCUMENTS.length],
  ] as const) {
    test(`nearest to ${label} (k=${k}): simple, prepared and pipelined through the gateway = direct`, async () => {
      const vector = vectorLiteral(probe);
      const direct = await withClient(qs.directConfig(), (c) => c.query(NEAREST, [vector, k]));
      assert.equal(direct.rows.length, k);
      // The expected order, computed here from the seed: the database is not trusted to check itself.
      const distance = (e: readonly number[]) => Math.hypot(...e.map((x, i) => x - (probe[i] as number)));
      const expected = [...SEED_DOCUMENTS].sort((a, b) => distance(a.embedding) - distance(b.embedding)).slice(0, k);
      assert.deepEqual(
        direct.rows.map((r) => r.id),
        expected.map((d) => d.id),
      );

      const gw = qs.clientConfig(reader);
      const viaGateway = await withClient(gw, async (c) => {
        // Simple protocol: the vector inlined as a literal.
        const simple = await c.query(
          `SELECT id, tenant_id, title, embedding::text AS embedding FROM documents ORDER BY embedding <-> '${vector}' LIMIT ${k}`,
        );
        // Extended protocol with a named prepared statement, run twice (parse once, bind and execute each time).
        const prepared = await c.query({ name: 'nearest', text: NEAREST, values: [vector, k] });
        const again = await c.query({ name: 'nearest', text: NEAREST, values: [vector, k] });
        return { simple: simple.rows, prepared: prepared.rows, again: again.rows };
      });
      assert.deepEqual(viaGateway.simple, direct.rows);
      assert.deepEqual(viaGateway.prepared, direct.rows);
      assert.deepEqual(viaGateway.again, direct.rows);

      const sql = postgres({ ...gw, username: gw.user, max: 1, ssl: false, onnotice: () => undefined });
      try {
        // postgres.js pipelines these queries on one connection.
        const [first, second] = await Promise.all([sql.unsafe(NEAREST, [vector, k]), sql.unsafe(NEAREST, [vector, k])]);
        assert.deepEqual([...first], direct.rows);
        assert.deepEqual([...second], direct.rows);
      } finally {
        await sql.end();
      }
    });
  }

  test('a distance operator in a WHERE clause and cosine ordering match too', async () => {
    const query =
      "SELECT id, round((embedding <=> '[1,0,0]')::numeric, 6)::text AS d FROM documents WHERE embedding <-> '[1,0,0]' < 1 ORDER BY embedding <=> '[1,0,0]', id";
    const direct = await withClient(qs.directConfig(), (c) => c.query(query));
    const through = await withClient(qs.clientConfig(reader), (c) => c.query(query));
    assert.ok(direct.rows.length > 0);
    assert.deepEqual(through.rows, direct.rows);
  });

  test('a reader cannot write embeddings; the session stays usable and the data unchanged', async () => {
    const count = 'SELECT count(*)::int AS n FROM documents';
    const before = await withClient(qs.directConfig(), (c) => c.query(count));
    await withClient(qs.clientConfig(reader), async (c) => {
      await assert.rejects(
        c.query("INSERT INTO documents VALUES (99, 'x', 'x', 'x', '[1,1,1]')"),
        (error: { code?: string }) => error.code === '42501',
      );
      assert.equal((await c.query(count)).rows[0].n, before.rows[0].n);
    });
  });

  test('defence in depth: the PGlite session of a reader is read-only, of an indexer not', async () => {
    const show = 'SHOW default_transaction_read_only';
    const readerSetting = await withClient(qs.clientConfig(reader), (c) => c.query(show));
    assert.equal(readerSetting.rows[0].default_transaction_read_only, 'on');
    const indexer = await qs.mint('indexer-job', ['indexers']);
    const indexerSetting = await withClient(qs.clientConfig(indexer), (c) => c.query(show));
    assert.equal(indexerSetting.rows[0].default_transaction_read_only, 'off');
  });

  test('an indexer writes an embedding and finds it as the nearest neighbour', async () => {
    const indexer = await qs.mint('indexer-job', ['indexers']);
    await withClient(qs.clientConfig(indexer), async (c) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO documents (id, tenant_id, title, body, embedding) VALUES ($1, $2, $3, $4, $5)', [
        100,
        'acme',
        'Loyalty programme',
        'Points expire after a year.',
        '[0.5,0.5,0.5]',
      ]);
      const nearest = await c.query(NEAREST, ['[0.5,0.5,0.5]', 1]);
      assert.equal(nearest.rows[0].id, 100);
      await c.query('ROLLBACK');
    });
    const left = await withClient(qs.directConfig(), (c) => c.query('SELECT count(*)::int AS n FROM documents'));
    assert.equal(left.rows[0].n, SEED_DOCUMENTS.length);
  });
});
