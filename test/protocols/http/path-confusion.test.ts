import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { unfoldResults } from '../../../src/core/audit-event.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { startHttpGateway } from '../../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';

const AUDIENCE = 'https://gatehouse.test';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Finding 9: the attacks on path and header handling, sent through a real Gateway to an upstream that records
 * exactly what reached it. Each allowed request must arrive as the path policy judged; each refused one must not
 * arrive at all.
 */
describe('HTTP path confusion, model allow-list and forwarded headers (finding 9)', () => {
  let local: LocalIssuer;
  let upstream: Server;
  let gateway: Gateway;
  let base: string;
  let reader: string;
  let writer: string;
  const received: Received[] = [];

  before(async () => {
    local = await startLocalIssuer();
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"object":"list","data":[]}');
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const started = await startHttpGateway({
      dirPrefix: 'gh-paths-',
      issuers: [{ issuer: local.issuer, audience: AUDIENCE, jwksUri: local.jwksUri, algorithms: ['ES256'] }],
      admin: true,
      yaml: `
resources:
  - name: api
    protocol: http
    pathPrefix: /api
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    credential: { value: "Bearer upstream-key" }
    operations:
      - { method: POST, path: /v1/admin/**, kind: admin }
    policy:
      - { groups: [readers], allow: [read], models: [gpt-4o-mini] }
      - { groups: [writers], allow: [read, write] }
`,
    });
    gateway = started.gateway;
    base = started.base;
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: local.issuer, aud: AUDIENCE, iat: now, exp: now + 600 };
    reader = await local.sign({ ...claims, sub: 'reader', groups: ['readers'] });
    writer = await local.sign({ ...claims, sub: 'writer', groups: ['writers'] });
  });

  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await local?.close();
  });

  beforeEach(() => {
    received.length = 0;
  });

  /** Sends the path byte for byte (fetch would normalise it). */
  const send = (
    method: string,
    path: string,
    token: string,
    options: { body?: string; headers?: Record<string, string> } = {},
  ) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(base);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          headers: {
            authorization: `Bearer ${token}`,
            ...(options.body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) }),
            ...options.headers,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });

  it('routes a percent-encoded prefix as the decoded one and forwards the judged path, never a raw cut', async () => {
    for (const path of ['/ap%69/v1/models', '/api/v1/%6dodels', '/%61%70%69/%76%31/models']) {
      received.length = 0;
      const answer = await send('GET', path, reader);
      assert.equal(answer.status, 200, path);
      assert.deepEqual(
        received.map((r) => r.url),
        ['/v1/models'],
        path,
      );
    }
    // Characters outside `pchar` are re-encoded one canonical way; the query is the one the gateway parsed.
    received.length = 0;
    await send('GET', '/api/v1/files/a%20b+c?x=1&y=a%20b', reader);
    assert.deepEqual(
      received.map((r) => r.url),
      ['/v1/files/a%20b%2Bc?x=1&y=a+b'],
    );
  });

  it('judges case variants of a metered route as that route: the model allow-list holds', async () => {
    for (const path of ['/api/V1/Chat/Completions', '/api/v1/CHAT/completions', '/ap%69/v1/chat/%43ompletions']) {
      const denied = await send('POST', path, reader, {
        body: JSON.stringify({ model: 'gpt-5-expensive', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(denied.status, 403, path);
      assert.match(denied.body, /model-not-allowed/, path);
    }
    assert.equal(received.length, 0, 'the upstream never saw a call policy refused');
    const allowed = await send('POST', '/api/V1/Chat/Completions', reader, {
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(allowed.status, 200);
    assert.deepEqual(
      received.map((r) => [r.method, r.url]),
      [['POST', '/V1/Chat/Completions']],
    );
  });

  it('refuses a metered call that names no model, and a GET or HEAD with a body', async () => {
    const noModel = await send('POST', '/api/v1/chat/completions', reader, {
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(noModel.status, 400);
    assert.match(noModel.body, /names no model/);
    const empty = await send('POST', '/api/v1/responses', reader, { body: '' });
    assert.equal(empty.status, 400);
    const getWithBody = await send('GET', '/api/v1/chat/completions', reader, {
      body: JSON.stringify({ model: 'gpt-5-expensive', messages: [] }),
    });
    assert.equal(getWithBody.status, 400);
    assert.match(getWithBody.body, /may not carry a body/);
    const chunked = await send('GET', '/api/v1/models', reader, { headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(chunked.status, 400);
    assert.equal(received.length, 0);
    // The real SDK's call without a model meets the same refusal.
    const client = new OpenAI({ apiKey: reader, baseURL: `${base}/api/v1`, maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] } as never),
      (error: { status?: number }) => error.status === 400,
    );
    assert.equal(received.length, 0);
  });

  it('applies path rules case-blind, and refuses `;` parameters, dot segments and encoded separators', async () => {
    for (const path of ['/api/V1/ADMIN/reset', '/api/v1/%41dmin/reset', '/ap%69/v1/Admin/reset']) {
      const answer = await send('POST', path, writer, { body: '{}' });
      assert.equal(answer.status, 403, path);
    }
    for (const path of [
      '/api/v1/models;x=1',
      '/api/v1/admin;/reset',
      '/api/v1/admin%3B/reset',
      '/api/v1/x/%2e%2e/admin/reset',
      '/api/v1/admin%2Freset',
      '/api//v1/models',
      '/api/v1/a%00b',
    ]) {
      const answer = await send('POST', path, writer, { body: '{}' });
      assert.equal(answer.status, 400, path);
    }
    assert.equal(received.length, 0);
  });

  it('passes no caller-chosen organisation, project, method override or forwarding header upstream', async () => {
    const answer = await send('POST', '/api/v1/things', writer, {
      body: '{}',
      headers: {
        'OpenAI-Organization': 'org-victim',
        'OpenAI-Project': 'proj-victim',
        'X-HTTP-Method-Override': 'DELETE',
        'X-HTTP-Method': 'DELETE',
        'X-Method-Override': 'DELETE',
        Forwarded: 'for=10.0.0.1;host=internal',
        'X-Forwarded-For': '10.0.0.1',
        'X-Forwarded-Host': 'internal.example',
        'X-Forwarded-Proto': 'https',
        'X-Real-IP': '10.0.0.1',
        'X-Api-Key': 'caller-key',
        'X-Something-Else': 'dropped',
        'OpenAI-Beta': 'assistants=v2',
      },
    });
    assert.equal(answer.status, 200);
    const seen = received[0]?.headers ?? {};
    for (const name of [
      'openai-organization',
      'openai-project',
      'x-http-method-override',
      'x-http-method',
      'x-method-override',
      'forwarded',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
      'x-api-key',
      'x-something-else',
    ])
      assert.equal(seen[name], undefined, name);
    assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'only the gateway-observed address');
    assert.equal(seen.authorization, 'Bearer upstream-key');
    assert.equal(seen['openai-beta'], 'assistants=v2', 'allow-listed headers still pass');
    assert.equal(received[0]?.method, 'POST');
  });

  it('every path the upstream receives is the path policy judged, over many encodings (fuzz)', async () => {
    // Deterministic: a fixed linear congruential sequence picks, per character, raw, %XX or %xx, and the case of
    // route words; refusals (400/403) are fine, but anything forwarded must be what the audit recorded as judged.
    let seed = 20261207;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const encode = (text: string) =>
      [...text]
        .map((c) => {
          const roll = next();
          if (c === '/' || roll < 0.5) return next() < 0.3 ? c.toUpperCase() : c;
          const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
          return `%${roll < 0.75 ? hex.toUpperCase() : hex}`;
        })
        .join('');
    const targets = ['/api/v1/models', '/api/v1/chat/completions', '/api/v1/admin/reset', '/api/v1/files/a-b_c.txt'];
    const forwarded: string[] = [];
    for (let i = 0; i < 120; i++) {
      received.length = 0;
      const target = targets[i % targets.length] as string;
      const method = target.includes('models') || target.includes('files') ? 'GET' : 'POST';
      const body =
        method === 'POST'
          ? JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
          : undefined;
      await send(method, encode(target), writer, body === undefined ? {} : { body });
      for (const r of received) forwarded.push(`${r.method} ${decodeURIComponent(r.url.split('?')[0] as string)}`);
    }
    assert.ok(forwarded.length > 30, 'many of the variants were allowed and forwarded');
    await gateway.services.recorder.flush();
    const events = unfoldResults(await gateway.services.store.readEvents(0, 100_000));
    const judged = new Set(
      events
        .filter((e) => e.type === 'operation' && e.payload.verdict === 'allow')
        .map((e) => String(e.payload.action)),
    );
    for (const path of forwarded) assert.ok(judged.has(path), `${path} reached the upstream unjudged`);
    assert.ok(!forwarded.some((p) => /admin/i.test(p)), 'the admin route (denied to writers) never got through');
  });
});
