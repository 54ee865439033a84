import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProfileName } from '../../src/config/protocol-options.js';
import { configSchema } from '../../src/config/schema.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { resolveCollection } from '../../src/protocols/http/providers/collection-directory.js';
import { applyTenantFilter, classifyCall, profileFor } from '../../src/protocols/http/providers/registry.js';

const ID = '0f8e4a52-3c11-4d0e-9a55-6f3b2b1c9d00';
const V2 = `api/v2/tenants/t/databases/d/collections`;

/** [profile, method, path, body, kind, operation, collection, verdict for `rag`, verdict for `ops`] */
type Row = [ProfileName, string, string, unknown, string, string, string | undefined, string, string];

const ROWS: Row[] = [
  // Qdrant
  ['qdrant', 'GET', '/collections', undefined, 'read', 'collections.list', undefined, 'allow', 'allow'],
  ['qdrant', 'GET', '/collections/docs', undefined, 'read', 'collection.info', 'docs', 'allow', 'allow'],
  ['qdrant', 'PUT', '/collections/docs', undefined, 'ddl', 'collection.create', 'docs', 'deny', 'allow'],
  ['qdrant', 'PATCH', '/collections/docs', undefined, 'ddl', 'collection.update', 'docs', 'deny', 'allow'],
  ['qdrant', 'DELETE', '/collections/docs', undefined, 'ddl', 'collection.delete', 'docs', 'deny', 'allow'],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/search',
    { vector: [1] },
    'read',
    'points.search',
    'docs',
    'allow',
    'allow',
  ],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/search/batch',
    { searches: [] },
    'read',
    'points.search.batch',
    'docs',
    'allow',
    'allow',
  ],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/query',
    { query: [1] },
    'read',
    'points.query',
    'docs',
    'allow',
    'allow',
  ],
  ['qdrant', 'POST', '/collections/docs/points/scroll', {}, 'read', 'points.scroll', 'docs', 'allow', 'allow'],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/recommend',
    { positive: [1] },
    'read',
    'points.recommend',
    'docs',
    'allow',
    'allow',
  ],
  ['qdrant', 'POST', '/collections/docs/points', undefined, 'read', 'points.get', 'docs', 'allow', 'allow'],
  ['qdrant', 'GET', '/collections/docs/points/7', undefined, 'read', 'points.get', 'docs', 'allow', 'allow'],
  ['qdrant', 'PUT', '/collections/docs/points', { points: [] }, 'write', 'points.upsert', 'docs', 'allow', 'deny'],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/delete',
    { points: [1] },
    'write',
    'points.delete',
    'docs',
    'allow',
    'deny',
  ],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/delete',
    { filter: {} },
    'ddl',
    'points.delete',
    'docs',
    'deny',
    'allow',
  ],
  [
    'qdrant',
    'POST',
    '/collections/docs/points/delete',
    { points: [1], filter: {} },
    'ddl',
    'points.delete',
    'docs',
    'deny',
    'allow',
  ],
  [
    'qdrant',
    'POST',
    '/collections/secrets/points/search',
    { vector: [1] },
    'read',
    'points.search',
    'secrets',
    'deny',
    'allow',
  ],
  [
    'qdrant',
    'POST',
    '/collections/Docs/points/search',
    { vector: [1] },
    'read',
    'points.search',
    'Docs',
    'deny',
    'allow',
  ],
  [
    'qdrant',
    'POST',
    '/collections/%64ocs/points/search',
    { vector: [1] },
    'read',
    'points.search',
    'docs',
    'allow',
    'allow',
  ],
  ['qdrant', 'POST', '/collections/aliases', undefined, 'admin', 'aliases.update', undefined, 'deny', 'deny'],
  ['qdrant', 'POST', '/collections/docs/snapshots', undefined, 'admin', 'other', 'docs', 'deny', 'deny'],
  // Chroma, v2 and v1
  ['chroma', 'GET', `/${V2}`, undefined, 'read', 'collections.list', undefined, 'allow', 'allow'],
  ['chroma', 'POST', `/${V2}`, { name: 'docs' }, 'ddl', 'collection.create', 'docs', 'deny', 'allow'],
  ['chroma', 'GET', `/${V2}/docs`, undefined, 'read', 'collection.info', 'docs', 'allow', 'allow'],
  ['chroma', 'DELETE', `/${V2}/docs`, undefined, 'ddl', 'collection.delete', 'docs', 'deny', 'allow'],
  ['chroma', 'DELETE', '/api/v1/collections/%64ocs', undefined, 'ddl', 'collection.delete', 'docs', 'deny', 'allow'],
  [
    'chroma',
    'POST',
    `/${V2}/${ID}/query`,
    { query_embeddings: [[1]] },
    'read',
    'records.query',
    'docs',
    'allow',
    'allow',
  ],
  ['chroma', 'POST', `/api/v1/collections/${ID}/get`, {}, 'read', 'records.get', 'docs', 'allow', 'allow'],
  ['chroma', 'POST', `/${V2}/${ID}/add`, { ids: [] }, 'write', 'records.add', 'docs', 'allow', 'deny'],
  ['chroma', 'POST', `/${V2}/${ID}/upsert`, { ids: [] }, 'write', 'records.upsert', 'docs', 'allow', 'deny'],
  ['chroma', 'POST', `/${V2}/${ID}/update`, { ids: [] }, 'write', 'records.update', 'docs', 'allow', 'deny'],
  ['chroma', 'POST', `/${V2}/${ID}/delete`, { ids: ['a'] }, 'write', 'records.delete', 'docs', 'allow', 'deny'],
  ['chroma', 'POST', `/${V2}/${ID}/delete`, { where: { a: 1 } }, 'ddl', 'records.delete', 'docs', 'deny', 'allow'],
  ['chroma', 'POST', `/${V2}/${ID}/delete`, {}, 'ddl', 'records.delete', 'docs', 'deny', 'allow'],
  // Pinecone: the index comes from the host docs-abc1234.svc.us-east1-aws.pinecone.io
  ['pinecone', 'POST', '/query', { vector: [1], topK: 3 }, 'read', 'vectors.query', 'docs', 'allow', 'allow'],
  ['pinecone', 'GET', '/vectors/fetch', undefined, 'read', 'vectors.fetch', 'docs', 'allow', 'allow'],
  ['pinecone', 'POST', '/vectors/upsert', { vectors: [] }, 'write', 'vectors.upsert', 'docs', 'allow', 'deny'],
  ['pinecone', 'POST', '/vectors/update', { id: 'a' }, 'write', 'vectors.update', 'docs', 'allow', 'deny'],
  ['pinecone', 'POST', '/vectors/delete', { ids: ['a'] }, 'write', 'vectors.delete', 'docs', 'allow', 'deny'],
  ['pinecone', 'POST', '/vectors/delete', { deleteAll: true }, 'ddl', 'vectors.delete', 'docs', 'deny', 'allow'],
  ['pinecone', 'POST', '/vectors/delete', { filter: { a: 1 } }, 'ddl', 'vectors.delete', 'docs', 'deny', 'allow'],
  // Inference
  [
    'openai',
    'POST',
    '/v1/chat/completions',
    { model: 'gpt-4o-mini', messages: [] },
    'read',
    'chat.completions',
    undefined,
    'allow',
    'deny',
  ],
  [
    'openai',
    'POST',
    '/v1/chat/completions',
    { model: 'gpt-5', messages: [] },
    'read',
    'chat.completions',
    undefined,
    'deny',
    'deny',
  ],
  [
    'openai',
    'POST',
    '/v1/embeddings',
    { model: 'text-embedding-3-small', input: 'x' },
    'read',
    'embeddings',
    undefined,
    'allow',
    'deny',
  ],
  [
    'openai',
    'POST',
    '/v1/responses',
    { model: 'gpt-4o-mini', input: 'x' },
    'read',
    'responses',
    undefined,
    'allow',
    'deny',
  ],
  [
    'openai',
    'POST',
    '/v1/completions',
    { model: 'gpt-4o-mini', prompt: 'x' },
    'read',
    'completions',
    undefined,
    'allow',
    'deny',
  ],
  ['openai', 'GET', '/v1/models', undefined, 'read', 'other.read', undefined, 'allow', 'allow'],
  [
    'anthropic',
    'POST',
    '/v1/messages',
    { model: 'gpt-4o-mini', max_tokens: 5, messages: [] },
    'read',
    'messages',
    undefined,
    'allow',
    'deny',
  ],
];

function engineFor(profile: ProfileName): PolicyEngine {
  const config = configSchema.parse({
    identity: { devIssuer: { enabled: true } },
    resources: [
      {
        name: 'r',
        protocol: 'http',
        target: profile === 'pinecone' ? 'https://docs-abc1234.svc.us-east1-aws.pinecone.io' : 'http://127.0.0.1:1',
        host: 'r.test',
        profile,
        policy: [
          {
            groups: ['rag'],
            allow: ['read', 'write'],
            collections: ['docs'],
            models: ['gpt-4o-*', 'text-embedding-*'],
          },
          { groups: ['ops'], allow: ['ddl', 'read'], collections: ['*'], models: [] },
        ],
      },
    ],
  });
  return new PolicyEngine(config.resources);
}

describe('provider profiles: classification and decision', () => {
  // The one collection the upstream knows, as a Chroma listing would report it.
  const directory = { nameOf: async (id: string) => (id === ID ? 'docs' : undefined) };
  for (const [profile, method, path, body, kind, operation, collection, rag, ops] of ROWS) {
    it(`${profile} ${method} ${path} ${body === undefined ? '' : JSON.stringify(body)}`, async () => {
      const segments = path.split('/').slice(1).map(decodeURIComponent);
      const request = {
        method,
        segments,
        query: new URLSearchParams(),
        targetHost: profile === 'pinecone' ? 'docs-abc1234.svc.us-east1-aws.pinecone.io' : '127.0.0.1',
      };
      const p = profileFor(profile);
      assert.equal(p.needsBody(request), body !== undefined && method !== 'GET', 'body buffered exactly when needed');
      const classified = classifyCall(p, request, body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
      if (classified.call.collectionId !== undefined) {
        assert.equal(
          engineFor(profile).decide(
            {
              protocol: 'http',
              resource: 'r',
              kind: classified.call.kind,
              tags: [],
              action: path,
              text: path,
              ...(classified.call.unclassifiable === undefined
                ? {}
                : { unclassifiable: classified.call.unclassifiable }),
            },
            { identity: { groups: ['ops'] } },
          ).verdict,
          'deny',
          'an unresolved id is denied',
        );
      }
      const call = await resolveCollection(classified.call, request, directory);
      assert.deepEqual([call.kind, call.operation, call.collection], [kind, operation, collection]);
      const engine = engineFor(profile);
      const operationFor = {
        protocol: 'http' as const,
        resource: 'r',
        kind: call.kind,
        tags: [],
        action: path,
        text: path,
      };
      const op = {
        ...operationFor,
        ...(call.model === undefined ? {} : { model: call.model }),
        ...(call.collection === undefined ? {} : { collection: call.collection }),
        ...(call.unclassifiable === undefined ? {} : { unclassifiable: call.unclassifiable }),
      };
      assert.equal(engine.decide(op, { identity: { groups: ['rag'] } }).verdict, rag, 'rag');
      assert.equal(engine.decide(op, { identity: { groups: ['ops'] } }).verdict, ops, 'ops');
    });
  }

  it('reads model, output ceiling, stream flag and a prompt estimate from inference bodies', () => {
    const request = {
      method: 'POST',
      segments: ['v1', 'chat', 'completions'],
      query: new URLSearchParams(),
      targetHost: 'x',
    };
    const body = {
      model: 'gpt-4o-mini',
      stream: true,
      max_completion_tokens: 200,
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x'.repeat(300) }],
    };
    const { call } = classifyCall(profileFor(undefined), request, Buffer.from(JSON.stringify(body)));
    assert.deepEqual([call.model, call.maxOutputTokens, call.stream, call.metered], ['gpt-4o-mini', 200, true, true]);
    assert.ok((call.promptTokens ?? 0) >= 75, 'at least bytes / 4');
    const legacy = classifyCall(
      profileFor('openai'),
      { ...request, segments: ['v1', 'completions'] },
      Buffer.from('{"prompt":"hi"}'),
    );
    assert.equal(legacy.call.maxOutputTokens, 16);
    const anthropic = classifyCall(
      profileFor('anthropic'),
      { ...request, segments: ['v1', 'messages'] },
      Buffer.from('{"model":"claude","max_tokens":"9"}'),
    );
    assert.match(anthropic.call.unclassifiable ?? '', /max_tokens/);
    const broken = classifyCall(
      profileFor('qdrant'),
      { ...request, segments: ['collections', 'docs', 'points', 'search'] },
      Buffer.from('[1]'),
    );
    assert.equal(broken.call.kind, 'unknown');
  });

  it('Pinecone tenant filter: $and around the caller’s filter, stamped upserts, refusals where no filter fits', () => {
    const p = profileFor('pinecone');
    const request = {
      method: 'POST',
      segments: ['query'],
      query: new URLSearchParams(),
      targetHost: 'docs-abc1234.svc.x.pinecone.io',
    };
    const tenant = { field: 'tenant_id', value: 'A' };
    const { call, body } = classifyCall(
      p,
      request,
      Buffer.from('{"vector":[1],"filter":{"$or":[{"tenant_id":"B"},{"x":1}]}}'),
    );
    assert.deepEqual(applyTenantFilter(p, call, body, tenant)?.filter, {
      $and: [{ tenant_id: { $eq: 'A' } }, { $or: [{ tenant_id: 'B' }, { x: 1 }] }],
    });
    const plain = classifyCall(p, request, Buffer.from('{"vector":[1]}'));
    assert.deepEqual(applyTenantFilter(p, plain.call, plain.body, tenant)?.filter, { tenant_id: { $eq: 'A' } });
    const notObject = classifyCall(p, request, Buffer.from('{"vector":[1],"filter":"x"}'));
    assert.throws(() => applyTenantFilter(p, notObject.call, notObject.body, tenant), { code: 'request.invalid' });
    const upsert = classifyCall(
      p,
      { ...request, segments: ['vectors', 'upsert'] },
      Buffer.from('{"vectors":[{"id":"1","values":[1],"metadata":{"tenant_id":"B"}}]}'),
    );
    assert.deepEqual(applyTenantFilter(p, upsert.call, upsert.body, tenant)?.vectors, [
      { id: '1', values: [1], metadata: { tenant_id: 'A' } },
    ]);
    for (const [segments, raw] of [
      [['vectors', 'delete'], '{"ids":["1"]}'],
      [['vectors', 'delete'], '{"deleteAll":true}'],
      [['vectors', 'update'], '{"id":"1"}'],
    ] as const) {
      const c = classifyCall(p, { ...request, segments: [...segments] }, Buffer.from(raw));
      assert.throws(() => applyTenantFilter(p, c.call, c.body, tenant), { code: 'policy.denied' });
    }
    const fetchCall = classifyCall(p, { ...request, method: 'GET', segments: ['vectors', 'fetch'] }, undefined);
    assert.throws(() => applyTenantFilter(p, fetchCall.call, undefined, tenant), { code: 'policy.denied' });
  });
});
