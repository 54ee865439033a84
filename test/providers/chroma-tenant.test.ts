import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChromaStandIn } from '../../src/standins/chroma-stand-in.js';
import { identityHeader, SeamProxy } from './seam-proxy.js';

// biome-ignore lint/suspicious/noExplicitAny: upstream JSON, read field by field in assertions
type Loose = any;
const A = identityHeader('job-a', ['rag'], { org: { tenant: 'A' } });
const B = identityHeader('job-b', ['rag'], { org: { tenant: 'B' } });
const OPS = identityHeader('ops', ['ops'], { org: { tenant: 'ops' } });
const V2 = '/api/v2/tenants/default_tenant/databases/default_database/collections';

describe('Chroma tenant filter against a Chroma-style upstream', () => {
  let upstream: ChromaStandIn;
  let proxy: SeamProxy;
  let base: string;
  let id = '';

  const call = async (who: string, method: string, path: string, body?: unknown, raw?: string) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-test-identity': who, 'content-type': 'application/json' },
      ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Loose };
  };
  const lastWhere = () => JSON.parse(upstream.seen.at(-1)?.body ?? '{}').where;

  before(async () => {
    upstream = new ChromaStandIn();
    const target = await upstream.start();
    proxy = new SeamProxy({
      name: 'chroma',
      protocol: 'http',
      target,
      host: 'chroma.test',
      profile: 'chroma',
      tenantFilter: { field: 'tenant_id', claim: 'org.tenant' },
      policy: [
        { groups: ['rag'], allow: ['read', 'write'], collections: ['docs'] },
        { groups: ['ops'], allow: ['read', 'write', 'ddl'], collections: ['*'] },
      ],
    });
    base = await proxy.start();
    const created = await call(OPS, 'POST', V2, { name: 'docs' });
    assert.equal(created.status, 200);
    id = created.json.id;
    await call(OPS, 'POST', V2, { name: 'secrets' });
    const add = (who: string, ids: string[], claimed: string) =>
      call(who, 'POST', `${V2}/${id}/add`, {
        ids,
        embeddings: ids.map((_, i) => [i, 1]),
        metadatas: ids.map(() => ({ tenant_id: claimed })),
        documents: ids.map((x) => `doc ${x}`),
      });
    assert.equal((await add(A, ['a1', 'a2'], 'B')).status, 201, 'A claims B in its metadata');
    assert.equal((await add(B, ['b1', 'b2'], 'B')).status, 201);
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it('resolves the collection id to its name for policy, and stamps the caller’s tenant on added records', () => {
    assert.equal(proxy.decisions.at(-1)?.call.collection, 'docs');
    const rows = [...(upstream.collections.get('docs')?.rows.values() ?? [])];
    assert.deepEqual(
      rows.map((r) => [r.id, r.metadata?.tenant_id]),
      [
        ['a1', 'A'],
        ['a2', 'A'],
        ['b1', 'B'],
        ['b2', 'B'],
      ],
    );
  });

  const attacks: [string, unknown][] = [
    ['no where at all', undefined],
    ['an $or around the tenant', { $or: [{ tenant_id: 'B' }, { tenant_id: { $ne: 'A' } }] }],
    ['the other tenant’s value', { tenant_id: 'B' }],
    ['an empty where', {}],
  ];
  for (const [name, where] of attacks) {
    it(`get and query with ${name} only return tenant A`, async () => {
      const get = await call(A, 'POST', `${V2}/${id}/get`, {
        ...(where === undefined ? {} : { where }),
        ids: ['a1', 'b1'],
      });
      assert.equal(get.status, 200);
      assert.ok(get.json.metadatas.every((m: { tenant_id: string }) => m.tenant_id === 'A'));
      const query = await call(A, 'POST', `${V2}/${id}/query`, {
        query_embeddings: [[0, 1]],
        n_results: 10,
        ...(where === undefined ? {} : { where }),
      });
      assert.equal(query.status, 200);
      assert.ok(query.json.metadatas[0].every((m: { tenant_id: string }) => m.tenant_id === 'A'));
      const forwarded = lastWhere();
      assert.deepEqual(forwarded.$and?.[0] ?? forwarded, { tenant_id: { $eq: 'A' } });
    });
  }

  it('duplicate where keys are judged as the last one, and a where that is not an object is refused', async () => {
    const raw = `{"query_embeddings":[[0,1]],"n_results":10,"where":{"tenant_id":"A"},"where":{"tenant_id":"B"}}`;
    const dup = await call(A, 'POST', `${V2}/${id}/query`, undefined, raw);
    assert.equal(dup.status, 200);
    assert.deepEqual(dup.json.ids, [[]]);
    assert.equal((await call(A, 'POST', `${V2}/${id}/query`, { query_embeddings: [[0, 1]], where: 'x' })).status, 400);
  });

  it('names: another case or an id in upper case resolve as Chroma does; an unknown id is denied', async () => {
    assert.equal((await call(A, 'GET', `${V2}/Docs`)).status, 403);
    assert.equal((await call(A, 'GET', `${V2}/%64ocs`)).status, 200);
    const upper = await call(A, 'POST', `${V2}/${id.toUpperCase()}/get`, {});
    assert.equal(upper.status, 200);
    assert.ok(upper.json.metadatas.every((m: { tenant_id: string }) => m.tenant_id === 'A'));
    const secrets = upstream.collections.get('secrets')?.id as string;
    assert.equal((await call(A, 'POST', `${V2}/${secrets}/get`, {})).status, 403, 'policy names docs only');
    assert.equal((await call(A, 'POST', `${V2}/00000000-0000-0000-0000-000000000000/get`, {})).status, 400);
  });

  it('deletes stay inside the tenant; a delete without ids is ddl; count cannot be scoped', async () => {
    assert.equal((await call(A, 'POST', `${V2}/${id}/delete`, { ids: ['b1', 'a1'] })).status, 200);
    assert.deepEqual([...(upstream.collections.get('docs')?.rows.keys() ?? [])], ['a2', 'b1', 'b2']);
    assert.equal((await call(A, 'POST', `${V2}/${id}/delete`, { where: { tenant_id: 'B' } })).status, 403);
    assert.equal(
      (await call(OPS, 'POST', `${V2}/${id}/delete`, {})).status,
      200,
      'ops deletes everything of its own tenant',
    );
    assert.deepEqual([...(upstream.collections.get('docs')?.rows.keys() ?? [])], ['a2', 'b1', 'b2']);
    assert.equal((await call(A, 'GET', `${V2}/${id}/count`)).status, 403);
  });
});
