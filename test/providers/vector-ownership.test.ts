import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { pineconeOwnershipProbe } from '../../src/protocols/http/providers/record-ownership.js';
import { ChromaStandIn } from '../../src/standins/chroma-stand-in.js';
import { QdrantStandIn } from '../../src/standins/qdrant-stand-in.js';
import { startHttpGateway } from '../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';

// biome-ignore lint/suspicious/noExplicitAny: upstream JSON read field by field in assertions
type Loose = any;
const AUDIENCE = 'https://gatehouse.test';
const KEY = 'qdrant-key-only-gatehouse-knows';

/**
 * Finding 7: tenant `evil` upserts a point id that tenant `acme` holds. Before the fix the stamp rewrite made it
 * evil's point (acme's vector and payload overwritten). Each attack goes through a real Gateway; the store is then
 * read directly (not through the gateway) to prove acme's point is untouched.
 */
describe('vector store tenant isolation of writes by record id (finding 7)', () => {
  let local: LocalIssuer;
  let qdrant: QdrantStandIn;
  let chroma: ChromaStandIn;
  let gateway: Gateway;
  let base: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    local = await startLocalIssuer();
    qdrant = new QdrantStandIn(KEY);
    chroma = new ChromaStandIn();
    const started = await startHttpGateway({
      dirPrefix: 'gh-qdrant-owner-',
      issuers: [{ issuer: local.issuer, audience: AUDIENCE, jwksUri: local.jwksUri, algorithms: ['ES256'] }],
      yaml: `
resources:
  - name: qdrant
    protocol: http
    pathPrefix: /qdrant
    target: ${await qdrant.start()}
    profile: qdrant
    credential: { header: api-key, value: ${KEY} }
    tenantFilter: { field: tenant_id, claim: tenant }
    policy:
      - { groups: [rag], allow: [read, write], collections: [docs] }
  - name: chroma
    protocol: http
    pathPrefix: /chroma
    target: ${await chroma.start()}
    profile: chroma
    tenantFilter: { field: tenant_id, claim: tenant }
    policy:
      - { groups: [rag], allow: [read, write, ddl], collections: [docs] }
`,
    });
    gateway = started.gateway;
    base = started.base;
    const now = Math.floor(Date.now() / 1000);
    for (const tenant of ['acme', 'evil'])
      tokens[tenant] = await local.sign({
        iss: local.issuer,
        aud: AUDIENCE,
        sub: `job-${tenant}`,
        groups: ['rag'],
        tenant,
        iat: now,
        exp: now + 600,
      });
  });

  after(async () => {
    await gateway?.stop();
    await qdrant?.stop();
    await chroma?.stop();
    await local?.close();
  });

  beforeEach(() => {
    qdrant.collections.set('docs', new Map());
  });

  const call = async (tenant: string, method: string, path: string, body: unknown) => {
    const response = await fetch(`${base}/qdrant/collections/docs${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[tenant]}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Loose };
  };
  /** The store's own copy, read directly. */
  const stored = (id: number | string) => qdrant.collections.get('docs')?.get(String(id));

  it('refuses an upsert by an id another tenant holds, and leaves that point as it was', async () => {
    const created = await call('acme', 'PUT', '/points', {
      points: [{ id: 7, vector: [1, 0], payload: { secret: 'acme-plan' } }],
    });
    assert.equal(created.status, 200);
    assert.deepEqual(stored(7)?.payload, { secret: 'acme-plan', tenant_id: 'acme' });

    // The attack from the issue: same id, evil's payload.
    const attack = await call('evil', 'PUT', '/points', {
      points: [{ id: 7, vector: [0, 1], payload: { secret: 'pwned' } }],
    });
    assert.equal(attack.status, 403);
    assert.equal(attack.json.error.reason, 'tenant-filter');
    // The batch form, and a mix of a fresh id with the taken one: refused whole.
    const batch = await call('evil', 'PUT', '/points', { batch: { ids: [7], vectors: [[0, 1]], payloads: [{}] } });
    assert.equal(batch.status, 403);
    const mixed = await call('evil', 'PUT', '/points', {
      points: [
        { id: 8, vector: [0, 1], payload: {} },
        { id: 7, vector: [0, 1], payload: {} },
      ],
    });
    assert.equal(mixed.status, 403);

    assert.deepEqual(stored(7)?.payload, { secret: 'acme-plan', tenant_id: 'acme' }, 'acme still owns point 7');
    assert.deepEqual(stored(7)?.vector, [1, 0]);
    assert.equal(stored(8), undefined, 'nothing of a refused batch was written');
    const upserts = qdrant.seen.filter((r) => r.method === 'PUT' && r.path === '/collections/docs/points');
    assert.equal(upserts.length, 1, 'only acme’s own upsert reached the store');
    // The probe asked only for the tenant field.
    const probe = qdrant.seen.find((r) => r.method === 'POST' && r.path === '/collections/docs/points');
    assert.deepEqual(JSON.parse(probe?.body ?? '{}').with_payload, ['tenant_id']);
  });

  it('lets a tenant write fresh ids and overwrite its own points', async () => {
    assert.equal((await call('evil', 'PUT', '/points', { points: [{ id: 9, vector: [0, 1] }] })).status, 200);
    assert.equal(stored(9)?.payload.tenant_id, 'evil');
    const own = await call('evil', 'PUT', '/points', { points: [{ id: 9, vector: [1, 1], payload: { v: 2 } }] });
    assert.equal(own.status, 200);
    assert.deepEqual(stored(9)?.payload, { v: 2, tenant_id: 'evil' });
    const uuid = 'a3bb189e-8bf9-4888-9912-ace4e6543002';
    assert.equal((await call('acme', 'PUT', '/points', { points: [{ id: uuid, vector: [1, 0] }] })).status, 200);
    assert.equal((await call('evil', 'PUT', '/points', { points: [{ id: uuid, vector: [0, 1] }] })).status, 403);
    assert.equal(stored(uuid)?.payload.tenant_id, 'acme');
  });

  it('payload writes and deletes by id stay confined to the caller’s points', async () => {
    await call('acme', 'PUT', '/points', { points: [{ id: 7, vector: [1, 0], payload: { secret: 'acme-plan' } }] });
    const deleted = await call('evil', 'POST', '/points/delete', { points: [7] });
    assert.equal(deleted.status, 200, 'the delete is rewritten to has_id AND tenant: it matches nothing');
    assert.deepEqual(stored(7)?.payload, { secret: 'acme-plan', tenant_id: 'acme' });
  });

  it('Chroma: an upsert by an id another tenant holds is refused; add of it changes nothing', async () => {
    const V2 = '/chroma/api/v2/tenants/default_tenant/databases/default_database/collections';
    const chromaCall = async (tenant: string, path: string, body: unknown) => {
      const response = await fetch(`${base}${V2}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[tenant]}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as Loose };
    };
    const created = await chromaCall('acme', '', { name: 'docs' });
    assert.equal(created.status, 200);
    const id = created.json.id as string;
    const row = () => chroma.collections.get('docs')?.rows.get('doc-1');
    const write = (tenant: string, op: string, document: string) =>
      chromaCall(tenant, `/${id}/${op}`, {
        ids: ['doc-1'],
        embeddings: [[1, 0]],
        metadatas: [{ note: tenant }],
        documents: [document],
      });
    assert.equal((await write('acme', 'add', 'acme contract')).status, 201);
    const attack = await write('evil', 'upsert', 'pwned');
    assert.equal(attack.status, 403);
    assert.equal(attack.json.error.reason, 'tenant-filter');
    assert.equal((await write('evil', 'add', 'pwned')).status, 201, 'add is passed on: Chroma ignores known ids');
    assert.deepEqual([row()?.document, row()?.metadata], ['acme contract', { note: 'acme', tenant_id: 'acme' }]);
    assert.equal((await write('acme', 'upsert', 'acme v2')).status, 201, 'the owner may upsert its own record');
    assert.equal(row()?.document, 'acme v2');
  });

  it('Pinecone: the probe fetches the upsert’s ids in its namespace and names those of other tenants', () => {
    const tenant = { field: 'tenant_id', value: 'evil' };
    const call = { kind: 'write', operation: 'vectors.upsert', metered: false, tenantScope: 'stamp' } as const;
    const probe = pineconeOwnershipProbe(call, { vectors: [{ id: 'v 1' }, { id: 'v2' }], namespace: 'ns' }, tenant);
    assert.equal(probe?.method, 'GET');
    assert.equal(probe?.path, '/vectors/fetch?ids=v+1&ids=v2&namespace=ns');
    const answer = {
      vectors: {
        'v 1': { id: 'v 1', metadata: { tenant_id: 'acme' } },
        v2: { id: 'v2', metadata: { tenant_id: 'evil' } },
      },
      namespace: 'ns',
    };
    assert.deepEqual(probe?.foreign(answer), ['v 1']);
    assert.equal(pineconeOwnershipProbe({ ...call, operation: 'vectors.query' }, {}, tenant), undefined);
  });
});
