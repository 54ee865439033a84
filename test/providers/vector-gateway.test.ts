import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { ChromaStandIn } from '../../src/standins/chroma-stand-in.js';
import { QdrantStandIn } from '../../src/standins/qdrant-stand-in.js';
import { startHttpGateway } from '../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';

// biome-ignore lint/suspicious/noExplicitAny: upstream JSON and audit payloads, read field by field in assertions
type Loose = any;
const AUDIENCE = 'https://gatehouse.test';
const QDRANT_KEY = 'qdrant-key-only-gatehouse-knows';
const V2 = '/chroma/api/v2/tenants/default_tenant/databases/default_database/collections';

/**
 * Qdrant-style and Chroma-style upstreams behind a real Gateway with real tokens: every operation type is classified
 * and decided under a policy that names collections, and the tenant filter (from a signed claim) reaches the upstream
 * whatever the caller sends.
 */
describe('vector stores behind the gateway: collections in policy, tenant filters', () => {
  let local: LocalIssuer;
  let qdrant: QdrantStandIn;
  let chroma: ChromaStandIn;
  let gateway: Gateway;
  let base: string;
  const tokens = new Map<string, string>();

  const who = {
    a: { sub: 'job-a', groups: ['rag'], tenant: 'A' },
    b: { sub: 'job-b', groups: ['rag'], tenant: 'B' },
    ops: { sub: 'ops', groups: ['ops'], tenant: 'ops' },
    none: { sub: 'job-x', groups: ['rag'], tenant: undefined },
  } as const;
  type Who = keyof typeof who;

  const call = async (caller: Who, method: string, path: string, body?: unknown, raw?: string) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.get(caller)}`, 'content-type': 'application/json' },
      ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Loose };
  };
  /** The last operation record of a caller, with its decision. */
  const lastOperation = async (caller: Who) => {
    await gateway.services.recorder.flush();
    const events = await gateway.services.store.readEvents(0, 100_000);
    const sessions = new Set(
      events.filter((e) => e.type === 'session.start' && e.payload.subject === who[caller].sub).map((e) => e.sessionId),
    );
    return events.filter((e) => e.type === 'operation' && sessions.has(e.sessionId)).at(-1)?.payload as Loose;
  };
  const qdrantForwarded = () => JSON.parse(qdrant.seen.at(-1)?.body || '{}');
  const chromaForwarded = () => JSON.parse(chroma.seen.at(-1)?.body || '{}');

  before(async () => {
    local = await startLocalIssuer();
    qdrant = new QdrantStandIn(QDRANT_KEY);
    chroma = new ChromaStandIn();
    const started = await startHttpGateway({
      dirPrefix: 'gh-vectors-',
      issuers: [{ issuer: local.issuer, audience: AUDIENCE, jwksUri: local.jwksUri, algorithms: ['ES256'] }],
      yaml: `
resources:
  - name: qdrant
    protocol: http
    pathPrefix: /qdrant
    target: ${await qdrant.start()}
    profile: qdrant
    credential: { header: api-key, value: ${QDRANT_KEY} }
    tenantFilter: { field: tenant_id, claim: tenant }
    policy:
      - { groups: [rag], allow: [read, write], collections: [docs] }
      - { groups: [ops], allow: [read, write, ddl], collections: ["*"] }
  - name: chroma
    protocol: http
    pathPrefix: /chroma
    target: ${await chroma.start()}
    profile: chroma
    tenantFilter: { field: tenant_id, claim: org.tenant }
    policy:
      - { groups: [rag], allow: [read, write], collections: [docs] }
      - { groups: [ops], allow: [read, write, ddl], collections: ["*"] }
`,
    });
    gateway = started.gateway;
    base = started.base;
    const now = Math.floor(Date.now() / 1000);
    for (const [name, w] of Object.entries(who)) {
      const claims = w.tenant === undefined ? {} : { tenant: w.tenant, org: { tenant: w.tenant } };
      tokens.set(
        name,
        await local.sign({
          iss: local.issuer,
          aud: AUDIENCE,
          sub: w.sub,
          groups: w.groups,
          iat: now,
          exp: now + 600,
          ...claims,
        }),
      );
    }
  });

  after(async () => {
    await gateway?.stop();
    await qdrant?.stop();
    await chroma?.stop();
    await local?.close();
  });

  describe('Qdrant', () => {
    const points = (claimed: string, ids: number[]) =>
      ids.map((id) => ({ id, vector: [1, id / 10], payload: { tenant_id: claimed, n: id } }));

    // [caller, method, path, body, status, kind, collection, verdict]
    const table: [Who, string, string, unknown, number, string, string | undefined, string][] = [
      ['a', 'PUT', '/qdrant/collections/docs', { vectors: { size: 2 } }, 403, 'ddl', 'docs', 'deny'],
      ['ops', 'PUT', '/qdrant/collections/docs', { vectors: { size: 2 } }, 200, 'ddl', 'docs', 'allow'],
      ['ops', 'PUT', '/qdrant/collections/secrets', { vectors: { size: 2 } }, 200, 'ddl', 'secrets', 'allow'],
      [
        'a',
        'PUT',
        '/qdrant/collections/docs/points',
        { points: points('B', [1, 2, 3]) },
        200,
        'write',
        'docs',
        'allow',
      ],
      [
        'b',
        'PUT',
        '/qdrant/collections/docs/points',
        { points: points('B', [4, 5, 6]) },
        200,
        'write',
        'docs',
        'allow',
      ],
      ['a', 'PUT', '/qdrant/collections/secrets/points', { points: points('A', [9]) }, 403, 'write', 'secrets', 'deny'],
      ['a', 'GET', '/qdrant/collections/docs', undefined, 200, 'read', 'docs', 'allow'],
      ['a', 'POST', '/qdrant/collections/docs/points/search', { vector: [1, 1] }, 200, 'read', 'docs', 'allow'],
      ['a', 'POST', '/qdrant/collections/docs/points/scroll', { limit: 10 }, 200, 'read', 'docs', 'allow'],
      ['a', 'POST', '/qdrant/collections/docs/points/count', {}, 200, 'read', 'docs', 'allow'],
      ['a', 'POST', '/qdrant/collections/secrets/points/search', { vector: [1, 1] }, 403, 'read', 'secrets', 'deny'],
      ['a', 'POST', '/qdrant/collections/docs/points/delete', { filter: {} }, 403, 'ddl', 'docs', 'deny'],
      ['a', 'DELETE', '/qdrant/collections/docs', undefined, 403, 'ddl', 'docs', 'deny'],
      ['a', 'POST', '/qdrant/collections/aliases', { actions: [] }, 403, 'admin', undefined, 'deny'],
    ];
    for (const [caller, method, path, body, status, kind, collection, verdict] of table) {
      it(`${caller}: ${method} ${path} is ${kind} on ${collection ?? 'no collection'} -> ${verdict}`, async () => {
        const response = await call(caller, method, path, body);
        assert.equal(response.status, status, JSON.stringify(response.json));
        const operation = await lastOperation(caller);
        assert.deepEqual([operation.kind, operation.collection, operation.verdict], [kind, collection, verdict]);
        if (verdict === 'deny' && collection === 'secrets') assert.equal(operation.reason, 'collection-not-allowed');
      });
    }

    it('stamped the caller’s tenant on every upserted point, whatever the payload claimed', () => {
      const stored = [...(qdrant.collections.get('docs')?.values() ?? [])];
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
      assert.ok(
        qdrant.seen.every((s) => !s.body.includes('Bearer')),
        'no caller token upstream',
      );
    });

    const attacks: [string, unknown][] = [
      ['no filter', undefined],
      [
        'an OR around the tenant',
        {
          should: [
            { key: 'tenant_id', match: { value: 'B' } },
            { key: 'n', range: { gte: 0 } },
          ],
        },
      ],
      ['the other tenant’s value', { must: [{ key: 'tenant_id', match: { value: 'B' } }] }],
      ['must_not on its own tenant', { must_not: [{ key: 'tenant_id', match: { value: 'A' } }] }],
    ];
    for (const [name, filter] of attacks) {
      it(`a search with ${name} reaches the upstream with the tenant filter and returns tenant A only`, async () => {
        const search = await call('a', 'POST', '/qdrant/collections/docs/points/search', {
          vector: [1, 1],
          limit: 10,
          ...(filter === undefined ? {} : { filter }),
        });
        assert.equal(search.status, 200);
        assert.ok(search.json.result.every((p: Loose) => p.payload.tenant_id === 'A'));
        const forwarded = qdrantForwarded().filter;
        assert.deepEqual(forwarded.must[0], { key: 'tenant_id', match: { value: 'A' } });
        if (filter !== undefined) assert.deepEqual(forwarded.must[1], filter, 'the caller’s filter is nested inside');
      });
    }

    it('a tenant field in the body outside the filter changes nothing; duplicate keys forward what was judged', async () => {
      const raw = `{"vector":[1,1],"limit":10,"tenant_id":"B","filter":{"must":[{"key":"tenant_id","match":{"value":"A"}}]},"filter":{"should":[{"key":"tenant_id","match":{"value":"B"}}]}}`;
      const response = await call('a', 'POST', '/qdrant/collections/docs/points/search', undefined, raw);
      assert.equal(response.status, 200);
      assert.deepEqual(response.json.result, []);
      assert.equal(qdrant.seen.at(-1)?.body.match(/"filter"/g)?.length, 1, 'one filter key upstream');
    });

    it('collection name case is another collection; URL encoding resolves to the same one, still filtered', async () => {
      const upper = await call('a', 'POST', '/qdrant/collections/Docs/points/search', { vector: [1, 1] });
      assert.equal(upper.status, 403);
      assert.equal((await lastOperation('a')).reason, 'collection-not-allowed');
      const encoded = await call('a', 'POST', '/qdrant/collections/%64ocs/points/search', {
        vector: [1, 1],
        limit: 10,
      });
      assert.equal(encoded.status, 200);
      assert.deepEqual([...new Set(encoded.json.result.map((p: Loose) => p.payload.tenant_id))], ['A']);
      assert.equal((await lastOperation('a')).collection, 'docs');
    });

    it('deletes by id stay in the tenant; fetching by id and a caller without the claim are refused', async () => {
      assert.equal((await call('a', 'POST', '/qdrant/collections/docs/points/delete', { points: [4, 1] })).status, 200);
      assert.deepEqual(qdrantForwarded().filter.must[0], { key: 'tenant_id', match: { value: 'A' } });
      assert.deepEqual(
        [...(qdrant.collections.get('docs')?.keys() ?? [])],
        ['2', '3', '4', '5', '6'],
        'B’s point 4 survived',
      );
      const byId = await call('a', 'GET', '/qdrant/collections/docs/points/4');
      assert.equal(byId.status, 403);
      assert.equal(byId.json.error.reason, 'tenant-filter');
      const before = qdrant.seen.length;
      assert.equal(
        (await call('none', 'POST', '/qdrant/collections/docs/points/search', { vector: [1, 1] })).status,
        403,
      );
      assert.equal(qdrant.seen.length, before, 'the upstream never saw the unscoped call');
    });
  });

  describe('Chroma', () => {
    let docs = '';
    let secrets = '';
    const add = (caller: Who, id: string, ids: string[], claimed: string) =>
      call(caller, 'POST', `${V2}/${id}/add`, {
        ids,
        embeddings: ids.map((_, i) => [i, 1]),
        metadatas: ids.map(() => ({ tenant_id: claimed })),
        documents: ids.map((x) => `doc ${x}`),
      });

    before(async () => {
      const created = await call('ops', 'POST', V2, { name: 'docs' });
      assert.equal(created.status, 200);
      docs = created.json.id;
      secrets = (await call('ops', 'POST', V2, { name: 'secrets' })).json.id;
    });

    it('classifies and decides each operation type on the collection name behind the id', async () => {
      // [caller, method, path, body, status, kind, collection, verdict]
      const table: [Who, string, string, unknown, number, string, string | undefined, string][] = [
        ['a', 'POST', V2, { name: 'mine' }, 403, 'ddl', 'mine', 'deny'],
        ['a', 'GET', V2, undefined, 200, 'read', undefined, 'allow'],
        ['a', 'POST', `${V2}/${docs}/add`, null, 201, 'write', 'docs', 'allow'],
        ['b', 'POST', `${V2}/${docs}/add`, null, 201, 'write', 'docs', 'allow'],
        ['a', 'POST', `${V2}/${docs}/get`, {}, 200, 'read', 'docs', 'allow'],
        ['a', 'POST', `${V2}/${docs}/query`, { query_embeddings: [[0, 1]] }, 200, 'read', 'docs', 'allow'],
        ['a', 'POST', `${V2}/${secrets}/get`, {}, 403, 'read', 'secrets', 'deny'],
        ['a', 'POST', `${V2}/${docs}/delete`, { where: { tenant_id: 'B' } }, 403, 'ddl', 'docs', 'deny'],
        ['a', 'DELETE', `${V2}/docs`, undefined, 403, 'ddl', 'docs', 'deny'],
      ];
      for (const [caller, method, path, body, status, kind, collection, verdict] of table) {
        const response =
          body === null
            ? await add(caller, docs, caller === 'a' ? ['a1', 'a2'] : ['b1', 'b2'], 'B')
            : await call(caller, method, path, body);
        assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.json)}`);
        const operation = await lastOperation(caller);
        assert.deepEqual(
          [operation.kind, operation.collection, operation.verdict],
          [kind, collection, verdict],
          `${method} ${path}`,
        );
      }
      const rows = [...(chroma.collections.get('docs')?.rows.values() ?? [])];
      assert.deepEqual(
        rows.map((r) => [r.id, r.metadata?.tenant_id]),
        [
          ['a1', 'A'],
          ['a2', 'A'],
          ['b1', 'B'],
          ['b2', 'B'],
        ],
        'A’s claim of tenant B in its metadata was overwritten',
      );
    });

    const attacks: [string, unknown][] = [
      ['no where', undefined],
      ['an $or around the tenant', { $or: [{ tenant_id: 'B' }, { tenant_id: { $ne: 'A' } }] }],
      ['the other tenant’s value', { tenant_id: 'B' }],
    ];
    for (const [name, where] of attacks) {
      it(`get and query with ${name} reach the upstream scoped to tenant A`, async () => {
        const get = await call('a', 'POST', `${V2}/${docs}/get`, { ids: ['a1', 'b1'], ...(where ? { where } : {}) });
        assert.equal(get.status, 200);
        assert.ok(get.json.metadatas.every((m: Loose) => m.tenant_id === 'A'));
        const query = await call('a', 'POST', `${V2}/${docs}/query`, {
          query_embeddings: [[0, 1]],
          n_results: 10,
          ...(where ? { where } : {}),
        });
        assert.equal(query.status, 200);
        assert.ok(query.json.metadatas[0].every((m: Loose) => m.tenant_id === 'A'));
        const forwarded = chromaForwarded().where;
        assert.deepEqual(forwarded.$and?.[0] ?? forwarded, { tenant_id: { $eq: 'A' } });
      });
    }

    it('name case, id case and URL encoding resolve as Chroma does, and stay filtered', async () => {
      assert.equal((await call('a', 'GET', `${V2}/Docs`)).status, 403);
      assert.equal((await call('a', 'GET', `${V2}/%64ocs`)).status, 200);
      for (const id of [docs.toUpperCase(), encodeURIComponent(docs).replace('a', '%61')]) {
        const response = await call('a', 'POST', `${V2}/${id}/get`, {});
        assert.equal(response.status, 200, id);
        assert.ok(
          response.json.metadatas.length > 0 && response.json.metadatas.every((m: Loose) => m.tenant_id === 'A'),
        );
        assert.equal((await lastOperation('a')).collection, 'docs');
      }
      assert.equal((await call('a', 'POST', `${V2}/00000000-0000-0000-0000-000000000000/get`, {})).status, 400);
    });

    it('deletes by id stay inside the tenant', async () => {
      assert.equal((await call('a', 'POST', `${V2}/${docs}/delete`, { ids: ['b1', 'a1'] })).status, 200);
      assert.deepEqual([...(chroma.collections.get('docs')?.rows.keys() ?? [])], ['a2', 'b1', 'b2']);
    });
  });
});
