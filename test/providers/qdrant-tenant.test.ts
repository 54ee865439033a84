import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QdrantStandIn } from '../../src/standins/qdrant-stand-in.js';
import { identityHeader, SeamProxy } from './seam-proxy.js';

// biome-ignore lint/suspicious/noExplicitAny: upstream JSON, read field by field in assertions
type Loose = any;
const A = identityHeader('job-a', ['rag'], { tenant: 'A' });
const B = identityHeader('job-b', ['rag'], { tenant: 'B' });
const OPS = identityHeader('ops', ['ops'], { tenant: 'ops' });
const NO_TENANT = identityHeader('job-x', ['rag'], {});

describe('Qdrant tenant filter against a Qdrant-style upstream', () => {
  let upstream: QdrantStandIn;
  let proxy: SeamProxy;
  let base: string;

  const call = async (who: string, method: string, path: string, body?: unknown, raw?: string) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-test-identity': who, 'content-type': 'application/json' },
      ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Loose };
  };
  const tenantsOf = (points: { payload: { tenant_id: string } }[]) => [
    ...new Set(points.map((p) => p.payload.tenant_id)),
  ];
  const lastForwarded = () => JSON.parse(upstream.seen.at(-1)?.body ?? '{}');

  before(async () => {
    upstream = new QdrantStandIn();
    const target = await upstream.start();
    proxy = new SeamProxy(
      {
        name: 'vectors',
        protocol: 'http',
        target,
        host: 'vectors.test',
        profile: 'qdrant',
        tenantFilter: { field: 'tenant_id', claim: 'tenant' },
        policy: [
          { groups: ['rag'], allow: ['read', 'write'], collections: ['docs'] },
          { groups: ['ops'], allow: ['read', 'write', 'ddl'], collections: ['*'] },
        ],
      },
      4096,
    );
    base = await proxy.start();
    assert.equal((await call(OPS, 'PUT', '/collections/docs', { vectors: { size: 2, distance: 'Dot' } })).status, 200);
    // Tenant A tries to write a point into tenant B: the gateway stamps its own tenant on every point.
    const points = (tenant: string, ids: number[]) =>
      ids.map((id) => ({ id, vector: [1, id / 10], payload: { tenant_id: tenant === 'A' ? 'B' : tenant, n: id } }));
    assert.equal((await call(A, 'PUT', '/collections/docs/points', { points: points('A', [1, 2, 3]) })).status, 200);
    assert.equal((await call(B, 'PUT', '/collections/docs/points', { points: points('B', [4, 5, 6]) })).status, 200);
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it('stamps the caller’s tenant on upserted points, whatever the body says', () => {
    const stored = [...(upstream.collections.get('docs')?.values() ?? [])];
    assert.deepEqual(
      stored.map((p) => [p.id, p.payload.tenant_id]),
      [
        [1, 'A'],
        [2, 'A'],
        [3, 'A'],
        [4, 'B'],
        [5, 'B'],
        [6, 'B'],
      ],
    );
  });

  it('a plain search only returns the caller’s points, and the filter reached the upstream', async () => {
    const { status, json } = await call(A, 'POST', '/collections/docs/points/search', { vector: [1, 1], limit: 10 });
    assert.equal(status, 200);
    assert.deepEqual(tenantsOf(json.result), ['A']);
    assert.equal(json.result.length, 3);
    assert.deepEqual(lastForwarded().filter, { must: [{ key: 'tenant_id', match: { value: 'A' } }] });
  });

  const attacks: [string, unknown][] = [
    [
      'an OR around the tenant',
      {
        should: [
          { key: 'tenant_id', match: { value: 'B' } },
          { key: 'n', range: { gte: 0 } },
        ],
      },
    ],
    ['the other tenant’s value in the body', { must: [{ key: 'tenant_id', match: { value: 'B' } }] }],
    ['must_not excluding the own tenant', { must_not: [{ key: 'tenant_id', match: { value: 'A' } }] }],
    [
      'a nested should with is_empty',
      { must: [{ should: [{ is_empty: { key: 'tenant_id' } }, { key: 'n', match: { any: [4, 5, 6] } }] }] },
    ],
  ];
  for (const [name, filter] of attacks) {
    it(`search, scroll, count and query with ${name} never reach tenant B`, async () => {
      const search = await call(A, 'POST', '/collections/docs/points/search', { vector: [1, 1], filter, limit: 10 });
      assert.equal(search.status, 200);
      assert.ok(!tenantsOf(search.json.result).includes('B'));
      const scroll = await call(A, 'POST', '/collections/docs/points/scroll', { filter, limit: 10 });
      assert.ok(!tenantsOf(scroll.json.result.points).includes('B'));
      const query = await call(A, 'POST', '/collections/docs/points/query', {
        query: [1, 1],
        prefetch: [{ query: [1, 0], filter, limit: 10 }],
        filter,
      });
      assert.ok(!tenantsOf(query.json.result.points).includes('B'));
      const count = await call(A, 'POST', '/collections/docs/points/count', { filter });
      assert.ok(count.json.result.count <= 3);
      assert.deepEqual(lastForwarded().filter.must[0], { key: 'tenant_id', match: { value: 'A' } });
    });
  }

  it('duplicate filter keys: the last one is judged and the upstream receives exactly what was judged', async () => {
    const raw = `{"vector":[1,1],"limit":10,"filter":{"must":[{"key":"tenant_id","match":{"value":"A"}}]},"filter":{"should":[{"key":"tenant_id","match":{"value":"B"}}]}}`;
    const { status, json } = await call(A, 'POST', '/collections/docs/points/search', undefined, raw);
    assert.equal(status, 200);
    assert.deepEqual(json.result, []);
    const forwarded = upstream.seen.at(-1)?.body ?? '';
    assert.equal(forwarded.match(/"filter"/g)?.length, 1, 'one filter key upstream');
  });

  it('refuses a filter that is not an object, an oversized body and a caller without the tenant claim', async () => {
    for (const filter of ['tenant_id', ['x'], 7]) {
      const { status } = await call(A, 'POST', '/collections/docs/points/search', { vector: [1, 1], filter });
      assert.equal(status, 400);
    }
    const big = await call(A, 'POST', '/collections/docs/points/search', { vector: [1, 1], pad: 'x'.repeat(5000) });
    assert.equal(big.status, 413);
    const anonymous = await call(NO_TENANT, 'POST', '/collections/docs/points/search', { vector: [1, 1] });
    assert.equal(anonymous.status, 403);
  });

  it('another case is another collection (denied); percent-encoding resolves to the same one', async () => {
    assert.equal((await call(A, 'POST', '/collections/Docs/points/search', { vector: [1, 1] })).status, 403);
    const encoded = await call(A, 'POST', '/collections/%64ocs/points/search', { vector: [1, 1], limit: 10 });
    assert.equal(encoded.status, 200);
    assert.deepEqual(tenantsOf(encoded.json.result), ['A']);
    assert.equal(proxy.decisions.at(-1)?.call.collection, 'docs');
  });

  it('deletes by id or filter only reach the caller’s points; fetching by id is refused', async () => {
    assert.equal((await call(A, 'POST', '/collections/docs/points/delete', { points: [4, 5] })).status, 200);
    assert.deepEqual(lastForwarded().filter.must[1], { must: [{ has_id: [4, 5] }] });
    // Delete by filter is ddl: rag may not, ops may, still inside its own tenant.
    const byFilter = { filter: { should: [{ key: 'tenant_id', match: { value: 'B' } }] } };
    assert.equal((await call(A, 'POST', '/collections/docs/points/delete', byFilter)).status, 403);
    assert.equal((await call(OPS, 'POST', '/collections/docs/points/delete', byFilter)).status, 200);
    const left = [...(upstream.collections.get('docs')?.values() ?? [])].map((p) => p.id);
    assert.deepEqual(left, [1, 2, 3, 4, 5, 6]);
    assert.equal((await call(A, 'POST', '/collections/docs/points', { ids: [4] })).status, 403);
    assert.equal((await call(A, 'GET', '/collections/docs/points/4')).status, 403);
    assert.equal((await call(A, 'POST', '/collections/docs/points/delete', { points: [1] })).status, 200);
    assert.ok(!upstream.collections.get('docs')?.has('1'));
  });

  it('lookups into another collection are refused', async () => {
    const body = { positive: [1], limit: 3, lookup_from: { collection: 'secrets' } };
    assert.equal((await call(A, 'POST', '/collections/docs/points/recommend', body)).status, 400);
  });
});
