import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { ChromaStandIn } from '../../src/standins/chroma-stand-in.js';
import { QdrantStandIn } from '../../src/standins/qdrant-stand-in.js';
import { startHttpGateway } from '../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';

const AUDIENCE = 'https://gatehouse.test';
const QDRANT_KEY = 'qdrant-key-blast-radius';
const V2 = '/api/v2/tenants/default_tenant/databases/default_database/collections';

/**
 * maxPoints through the real gateway against the Qdrant stand-in: a delete by filter is counted first (with the
 * caller's tenant filter, as the delete itself will be), held above the limit, run below it; deleting a whole
 * collection is held unless a rule names collection-delete.
 */
describe('vector blast radius: maxPoints and collection deletes', () => {
  let issuer: LocalIssuer;
  let qdrant: QdrantStandIn;
  let chroma: ChromaStandIn;
  let chromaUrl = '';
  let gateway: Gateway;
  let base: string;
  const tokens = new Map<string, string>();

  const call = async (who: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.get(who)}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as { review?: { id: string } } };
  };
  /** Points in the collection, read on the stand-in directly (not through the gateway). */
  const stored = async (tenant?: string) => {
    const response = await fetch(`${qdrantUrl}/collections/docs/points/count`, {
      method: 'POST',
      headers: { 'api-key': QDRANT_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(
        tenant === undefined ? {} : { filter: { must: [{ key: 'tenant_id', match: { value: tenant } }] } },
      ),
    });
    return ((await response.json()) as { result: { count: number } }).result.count;
  };
  let qdrantUrl = '';

  before(async () => {
    issuer = await startLocalIssuer();
    qdrant = new QdrantStandIn(QDRANT_KEY);
    qdrantUrl = await qdrant.start();
    chroma = new ChromaStandIn();
    chromaUrl = await chroma.start();
    const started = await startHttpGateway({
      dirPrefix: 'gh-blast-radius-',
      issuers: [{ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, algorithms: ['ES256'] }],
      yaml: `
approvals: { httpWait: 200ms, pollInterval: 100ms }
resources:
  - name: qdrant
    protocol: http
    pathPrefix: /qdrant
    target: ${qdrantUrl}
    profile: qdrant
    credential: { header: api-key, value: ${QDRANT_KEY} }
    tenantFilter: { field: tenant_id, claim: tenant }
    policy:
      - { groups: [indexers], allow: [read, write, ddl], maxPoints: 3, approvers: [owners] }
      - { groups: [ops], allow: [read, write, ddl, collection-delete] }
  - name: chroma
    protocol: http
    pathPrefix: /chroma
    target: ${chromaUrl}
    profile: chroma
    tenantFilter: { field: tenant_id, claim: tenant }
    policy:
      - { groups: [indexers], allow: [read, write, ddl], maxPoints: 3, approvers: [owners] }
      - { groups: [ops], allow: [read, write, ddl] }
`,
    });
    gateway = started.gateway;
    base = `${started.base}/qdrant`;
    const now = Math.floor(Date.now() / 1000);
    const people = { a: ['indexers', 'A'], b: ['indexers', 'B'], ops: ['ops', 'ops'] } as const;
    for (const [name, [group, tenant]] of Object.entries(people)) {
      tokens.set(
        name,
        await issuer.sign({
          iss: issuer.issuer,
          aud: AUDIENCE,
          sub: name,
          groups: [group],
          tenant,
          iat: now,
          exp: now + 600,
        }),
      );
    }
    // Tenant A: 5 old points and 2 new ones; tenant B: 10 old ones (written directly on the store).
    const points = [
      ...Array.from({ length: 5 }, (_, i) => ({ id: i + 1, payload: { tenant_id: 'A', age: 'old' } })),
      ...Array.from({ length: 2 }, (_, i) => ({ id: i + 6, payload: { tenant_id: 'A', age: 'new' } })),
      ...Array.from({ length: 10 }, (_, i) => ({ id: i + 100, payload: { tenant_id: 'B', age: 'old' } })),
    ].map((p) => ({ ...p, vector: [0.1, 0.2, 0.3] }));
    const headers = { 'api-key': QDRANT_KEY, 'content-type': 'application/json' };
    await fetch(`${qdrantUrl}/collections/docs`, { method: 'PUT', headers, body: '{}' });
    const upsert = await fetch(`${qdrantUrl}/collections/docs/points`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ points }),
    });
    assert.equal(upsert.status, 200);
  });

  after(async () => {
    await gateway?.stop();
    await qdrant?.stop();
    await chroma?.stop();
    await issuer?.close();
  });

  const byAge = (age: string) => ({ filter: { must: [{ key: 'age', match: { value: age } }] } });

  it('a delete by filter over maxPoints is held and nothing is deleted', async () => {
    const held = await call('a', 'POST', '/collections/docs/points/delete', byAge('old'));
    assert.equal(held.status, 202);
    assert.ok(held.json.review?.id);
    assert.equal(await stored('A'), 7, 'nothing deleted');
    const count = qdrant.seen.find((s) => s.path.endsWith('/points/count'));
    // The count carried the tenant filter: it counted tenant A's 5 old points, not B's 10.
    assert.match(count?.body ?? '', /"tenant_id"/);
    const review = await gateway.services.approvals.get(held.json.review?.id as string);
    assert.deepEqual(
      {
        figure: review?.cause.threshold?.figure,
        value: review?.cause.threshold?.value,
        limit: review?.cause.threshold?.limit,
      },
      { figure: 'points', value: 5, limit: 3 },
    );
  });

  it('a delete by filter under maxPoints runs at once, only on the caller’s tenant', async () => {
    const run = await call('a', 'POST', '/collections/docs/points/delete', byAge('new'));
    assert.equal(run.status, 200);
    assert.equal(await stored('A'), 5);
    assert.equal(await stored('B'), 10);
  });

  it('tenant B’s 10 old points are over the limit for B as well (the count is per tenant)', async () => {
    const held = await call('b', 'POST', '/collections/docs/points/delete', byAge('old'));
    assert.equal(held.status, 202);
    assert.equal(await stored('B'), 10);
  });

  it('deleting the whole collection is held for a rule that allows ddl but does not name collection-delete', async () => {
    const held = await call('a', 'DELETE', '/collections/docs');
    assert.equal(held.status, 202);
    assert.equal(await stored(), 15, 'the collection is still there');
  });

  it('Chroma: a delete by where is counted with get (tenant filter applied) and held over maxPoints', async () => {
    const chromaCall = (who: string, path: string, body: unknown) =>
      fetch(`${base.replace(/\/qdrant$/, '/chroma')}${V2}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.get(who)}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const created = await chromaCall('ops', '', { name: 'notes' });
    assert.equal(created.status, 200);
    const { id } = (await created.json()) as { id: string };
    const add = async (who: string, prefix: string, ages: string[]) => {
      const ids = ages.map((_, i) => `${prefix}${i}`);
      const response = await chromaCall(who, `/${id}/add`, {
        ids,
        embeddings: ids.map((_, i) => [i, 1]),
        metadatas: ages.map((age) => ({ age })),
      });
      assert.ok(response.ok, String(response.status));
    };
    await add('a', 'a', ['old', 'old', 'old', 'old', 'old', 'new', 'new']);
    await add('b', 'b', ['old', 'old']);
    /** Records of a tenant, read on the stand-in directly. */
    const stored = async (tenant: string) => {
      const response = await fetch(`${chromaUrl}${V2}/${id}/get`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ where: { tenant_id: tenant }, include: [] }),
      });
      return ((await response.json()) as { ids: string[] }).ids.length;
    };
    const held = await chromaCall('a', `/${id}/delete`, { where: { age: 'old' } });
    assert.equal(held.status, 202);
    assert.equal(await stored('A'), 7, 'nothing deleted');
    // B has only 2 old records: under the limit for B, deleted at once, and only B's.
    assert.equal((await chromaCall('b', `/${id}/delete`, { where: { age: 'old' } })).status, 200);
    assert.equal(await stored('B'), 0);
    assert.equal(await stored('A'), 7);
    assert.equal((await chromaCall('a', `/${id}/delete`, { where: { age: 'new' } })).status, 200);
    assert.equal(await stored('A'), 5);
  });
});
