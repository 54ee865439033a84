import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Review } from '../../src/approvals/review.js';
import { parseConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/gateway/logger.js';
import { PineconeStandIn } from '../../src/standins/pinecone-stand-in.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';
import { temporaryDirectory } from '../support/temp-dir.js';

const AUDIENCE = 'https://gatehouse.test';
const KEY = 'pinecone-key-blast-radius';

/**
 * maxPoints on Pinecone through the real gateway: a delete by metadata filter is counted first with
 * describe_index_stats (the caller's tenant filter applied, as to the delete itself), held above the limit, run
 * below it; an index that cannot count by filter (serverless) makes the count unbounded, so the delete is held.
 */
describe('Pinecone blast radius: deletes by filter counted with describe_index_stats', () => {
  let issuer: LocalIssuer;
  let pods: PineconeStandIn;
  let serverless: PineconeStandIn;
  let gateway: Gateway;
  let base: string;
  const tokens = new Map<string, string>();

  const remove = async (who: string, resource: string, body: unknown) => {
    const response = await fetch(`${base}/${resource}/vectors/delete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.get(who)}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as { review?: { id: string } } };
  };
  const threshold = async (id: string | undefined) =>
    ((await gateway.services.approvals.get(id as string)) as Review).cause.threshold;

  before(async () => {
    issuer = await startLocalIssuer();
    pods = new PineconeStandIn({ apiKey: KEY });
    serverless = new PineconeStandIn({ apiKey: KEY, serverless: true });
    const [podsUrl, serverlessUrl] = [await pods.start(), await serverless.start()];
    const dir = temporaryDirectory('gh-pinecone-blast-');
    const resource = (name: string, target: string) => `
  - name: ${name}
    protocol: http
    pathPrefix: /${name}
    target: ${target}
    profile: pinecone
    credential: { header: Api-Key, value: ${KEY} }
    tenantFilter: { field: tenant_id, claim: tenant }
    policy:
      - { groups: [indexers], allow: [read, write, ddl], maxPoints: 3, approvers: [owners] }`;
    const loaded = parseConfig(
      `
identity:
  issuers:
    - { issuer: ${issuer.issuer}, audience: ${AUDIENCE}, jwksUri: ${issuer.jwksUri}, algorithms: [ES256] }
store: { sqlite: { path: ${join(dir, 'gatehouse.db')} } }
approvals: { httpWait: 200ms, pollInterval: 100ms }
resources:${resource('pods', podsUrl)}${resource('serverless', serverlessUrl)}
`,
      join(dir, 'gatehouse.yaml'),
      {},
    );
    gateway = await Gateway.start(loaded, {
      logger: createLogger('silent'),
      listen: { http: { host: '127.0.0.1', port: 0 } },
    });
    base = `http://127.0.0.1:${gateway.addresses.http?.port}`;
    const now = Math.floor(Date.now() / 1000);
    for (const [name, tenant] of [
      ['a', 'A'],
      ['b', 'B'],
    ] as const) {
      tokens.set(
        name,
        await issuer.sign({
          iss: issuer.issuer,
          aud: AUDIENCE,
          sub: name,
          groups: ['indexers'],
          tenant,
          iat: now,
          exp: now + 600,
        }),
      );
    }
    // Namespace `docs`: tenant A has 5 old vectors and 2 new ones, tenant B 10 old ones (written on the index directly).
    const vectors = [
      ...Array.from({ length: 5 }, (_, i) => ({ id: `a${i}`, metadata: { tenant_id: 'A', age: 'old' } })),
      ...Array.from({ length: 2 }, (_, i) => ({ id: `n${i}`, metadata: { tenant_id: 'A', age: 'new' } })),
      ...Array.from({ length: 10 }, (_, i) => ({ id: `b${i}`, metadata: { tenant_id: 'B', age: 'old' } })),
    ].map((v) => ({ ...v, values: [0.1, 0.2, 0.3] }));
    for (const url of [podsUrl, serverlessUrl]) {
      const upsert = await fetch(`${url}/vectors/upsert`, {
        method: 'POST',
        headers: { 'api-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ vectors, namespace: 'docs' }),
      });
      assert.equal(upsert.status, 200);
    }
  });

  after(async () => {
    await gateway?.stop();
    await pods?.stop();
    await serverless?.stop();
    await issuer?.close();
  });

  const old = { filter: { age: { $eq: 'old' } }, namespace: 'docs' };

  it('a delete by filter over maxPoints is held and nothing is deleted', async () => {
    const held = await remove('a', 'pods', old);
    assert.equal(held.status, 202);
    assert.equal(pods.count('docs', { tenant_id: 'A' }), 7, 'nothing deleted');
    // The count carried the tenant filter: it counted A's 5 old vectors, not B's 10.
    const stats = pods.seen.find((s) => s.path === '/describe_index_stats');
    assert.match(stats?.body ?? '', /"tenant_id"/);
    const { figure, value, limit } = (await threshold(held.json.review?.id)) ?? {};
    assert.deepEqual({ figure, value, limit }, { figure: 'points', value: 5, limit: 3 });
  });

  it('a delete by filter under maxPoints runs at once, only on the caller’s tenant', async () => {
    const run = await remove('a', 'pods', { filter: { age: 'new' }, namespace: 'docs' });
    assert.equal(run.status, 200);
    assert.equal(pods.count('docs', { tenant_id: 'A' }), 5);
    assert.equal(pods.count('docs', { tenant_id: 'B' }), 10);
  });

  it('the count is per namespace: an empty one selects nothing and the delete runs', async () => {
    const run = await remove('b', 'pods', { filter: { age: 'old' }, namespace: 'elsewhere' });
    assert.equal(run.status, 200);
    assert.equal(pods.count('docs', { tenant_id: 'B' }), 10);
  });

  it('an index that cannot count by filter (serverless) makes the count unbounded: held', async () => {
    const held = await remove('a', 'serverless', { filter: { age: 'new' }, namespace: 'docs' });
    assert.equal(held.status, 202);
    assert.equal(serverless.count('docs', { tenant_id: 'A' }), 7, 'nothing deleted');
    assert.equal((await threshold(held.json.review?.id))?.value, Number.POSITIVE_INFINITY);
  });
});
