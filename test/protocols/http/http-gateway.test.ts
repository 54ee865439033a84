import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from 'jose';
import OpenAI from 'openai';
import { unfoldResults } from '../../../src/core/audit-event.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { OpenAiStandIn } from '../../../src/standins/openai-stand-in.js';
import { startHttpGateway } from '../../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';
import { startOidcProvider, type TestOidcProvider } from '../../support/oidc-provider.js';

const AUDIENCE = 'https://gatehouse.test';
const UPSTREAM_KEY = 'sk-upstream-only-gatehouse-knows';

/** An SSE upstream that sends one event, then waits for the test to release the rest: proves chunk-by-chunk relay. */
class GatedSseUpstream {
  private release: (() => void) | undefined;
  readonly server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: first\n\n');
    this.release = () => res.end('data: second\n\ndata: [DONE]\n\n');
  });
  open(): void {
    this.release?.();
  }
}

describe('HTTP data path, end to end', () => {
  let oidc: TestOidcProvider;
  let local: LocalIssuer;
  let standIn: OpenAiStandIn;
  let gated: GatedSseUpstream;
  let silent: Server;
  let gateway: Gateway;
  let base: string;
  let admin: string;

  before(async () => {
    oidc = await startOidcProvider({
      audience: AUDIENCE,
      clients: [
        { clientId: 'rag-job', clientSecret: 'rag-secret-0123456789', groups: ['rag-readers'] },
        { clientId: 'indexer-job', clientSecret: 'idx-secret-0123456789', groups: ['indexers'] },
      ],
    });
    local = await startLocalIssuer();
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY });
    const standInUrl = await standIn.start();
    gated = new GatedSseUpstream();
    gated.server.listen(0, '127.0.0.1');
    await once(gated.server, 'listening');
    silent = createServer(() => undefined); // accepts requests and never answers
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (s: Server) => (s.address() as AddressInfo).port;
    const started = await startHttpGateway({
      dirPrefix: 'gh-http-',
      issuers: [
        { issuer: oidc.issuer, audience: AUDIENCE, algorithms: ['RS256'], maxTokenLifetime: '10m' },
        {
          issuer: local.issuer,
          audience: AUDIENCE,
          jwksUri: local.jwksUri,
          algorithms: ['ES256'],
          maxTokenLifetime: '10m',
          clockSkew: '5s',
        },
      ],
      env: { UPSTREAM_KEY },
      admin: true,
      yaml: `
http: { headersTimeout: 1s, maxHeaderBytes: 8192 }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${standInUrl}
    credential: { value: "Bearer \${env:UPSTREAM_KEY}" }
    policy:
      - groups: [rag-readers]
        allow: [read]
        models: [gpt-4o-mini]
  - name: gated
    protocol: http
    pathPrefix: /gated
    target: http://127.0.0.1:${port(gated.server)}
    policy: [{ groups: [rag-readers], allow: [read, write] }]
  - name: slow
    protocol: http
    pathPrefix: /slow
    target: http://127.0.0.1:${port(silent)}
    timeouts: { headers: 300ms }
    policy: [{ groups: [rag-readers], allow: [read] }]
  - name: down
    protocol: http
    pathPrefix: /down
    target: http://127.0.0.1:9
    policy: [{ groups: [rag-readers], allow: [read] }]
`,
    });
    gateway = started.gateway;
    base = started.base;
    admin = started.admin;
  });

  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
    gated?.server.closeAllConnections();
    gated?.server.close();
    silent?.closeAllConnections();
    silent?.close();
    await local?.close();
    await oidc?.close();
  });

  const sdk = (token: string) => new OpenAI({ baseURL: `${base}/llm/v1`, apiKey: token, maxRetries: 0 });

  it('runs a plain chat completion with the openai SDK and a real client-credentials token', async () => {
    const token = await oidc.token('rag-job');
    const before = standIn.requestCount;
    const completion = await sdk(token).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'ping through the gateway' }],
    });
    assert.equal(completion.choices[0]?.message.content, 'You said: ping through the gateway');
    assert.equal(standIn.requestCount, before + 1);
    const seen = standIn.seen.at(-1);
    assert.equal(seen?.authorization, `Bearer ${UPSTREAM_KEY}`, 'the resource credential was injected');
    assert.ok(!JSON.stringify(seen?.headers).includes(token), 'the caller token never reaches the upstream');
  });

  it('streams a chat completion with the openai SDK', async () => {
    const token = await oidc.token('rag-job');
    const stream = await sdk(token).chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'a longer message that is split into several chunks' }],
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'You said: a longer message that is split into several chunks');
    assert.ok(chunks > 3, `several chunks arrived (${chunks})`);
    assert.ok(!JSON.stringify(standIn.seen.at(-1)?.headers).includes(token));
  });

  it('relays SSE chunk by chunk, before the upstream has finished', async () => {
    const token = await oidc.token('rag-job');
    const res = await fetch(`${base}/gated/events`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.equal(
      new TextDecoder().decode(first.value),
      'data: first\n\n',
      'the first event arrived while the upstream still held the rest',
    );
    gated.open();
    let rest = '';
    for (let next = await reader.read(); !next.done; next = await reader.read())
      rest += new TextDecoder().decode(next.value);
    assert.equal(rest, 'data: second\n\ndata: [DONE]\n\n');
  });

  it('rejects every bad token with 401 and never reaches the upstream', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: local.issuer, aud: AUDIENCE, sub: 'ci-job', groups: ['rag-readers'], iat: now, exp: now + 300 };
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const valid = await local.sign(good);
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const publicKeyPem = JSON.stringify(local.publicJwk);
    const hmacHeader = encode({ alg: 'HS256', typ: 'JWT', kid: 'local-1' });
    const hs256 = `${hmacHeader}.${payload}.${createHmac('sha256', publicKeyPem).update(`${hmacHeader}.${payload}`).digest('base64url')}`;
    const { privateKey: strangerKey } = await generateKeyPair('ES256');
    const oidcToken = await oidc.token('rag-job');
    const [oidcHeader, , oidcSignature] = oidcToken.split('.') as [string, string, string];
    const bad: Record<string, string | undefined> = {
      missing: undefined,
      malformed: 'not.a.jwt',
      'alg none': `${encode({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      'HS256 signed with the public key': hs256,
      'wrong signature': `${header}.${encode({ ...good, groups: ['indexers'] })}.${signature}`,
      'tampered provider token': `${oidcHeader}.${encode({ ...good, iss: oidc.issuer })}.${oidcSignature}`,
      expired: await local.sign({ ...good, iat: now - 600, exp: now - 60 }),
      'not yet valid': await local.sign({ ...good, nbf: now + 120, exp: now + 400 }),
      'wrong issuer': await local.sign({ ...good, iss: 'https://evil.test' }),
      'wrong audience': await local.sign({ ...good, aud: 'https://other.test' }),
      'lifetime over the maximum': await local.sign({ ...good, exp: now + 24 * 3600 }),
      'unknown kid': await local.sign(good, { kid: 'rotated-away', key: strangerKey }),
    };
    const before = standIn.requestCount;
    for (const [name, token] of Object.entries(bad)) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${base}/llm/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      });
      assert.equal(res.status, 401, name);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.match(body.error.code, /^auth\./, name);
      assert.ok(
        !body.error.message.includes('expired') && !body.error.message.includes('signature'),
        `${name}: no detail leaked`,
      );
    }
    assert.equal(standIn.requestCount, before, 'no bad token reached the upstream');
    // The same issuer's valid token is accepted, so the rejections above are about the tokens, not the setup.
    const ok = await fetch(`${base}/llm/v1/models`, { headers: { authorization: `Bearer ${valid}` } });
    assert.equal(ok.status, 200);
  });

  it('denies by policy with 403 naming the rule, and the upstream never sees it', async () => {
    const token = await oidc.token('rag-job');
    const before = standIn.requestCount;
    const otherModel = await fetch(`${base}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    assert.equal(otherModel.status, 403);
    assert.equal(((await otherModel.json()) as { error: { reason: string } }).error.reason, 'model-not-allowed');
    const write = await fetch(`${base}/llm/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: 'x',
    });
    assert.equal(write.status, 403);
    const body = (await write.json()) as { error: { code: string; rule: string } };
    assert.equal(body.error.code, 'policy.denied');
    assert.equal(body.error.rule, 'default-deny');
    const indexer = await oidc.token('indexer-job');
    const noRule = await fetch(`${base}/llm/v1/models`, { headers: { authorization: `Bearer ${indexer}` } });
    assert.equal(noRule.status, 403);
    assert.equal(standIn.requestCount, before);
  });

  it('answers malformed requests cleanly and keeps serving', async () => {
    const token = await oidc.token('rag-job');
    const badJson = await fetch(`${base}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"model": "gpt-4o-mini", "messages": [',
    });
    assert.equal(badJson.status, 400);
    const traversal = await rawRequest(
      gateway.addresses.http?.port as number,
      `GET /llm/%2e%2e/admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(traversal, /^HTTP\/1\.1 400/);
    const huge = await rawRequest(
      gateway.addresses.http?.port as number,
      `GET /llm/v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431/);
    const garbage = await rawRequest(gateway.addresses.http?.port as number, '\u0000\u0001\u0002 GARBAGE\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400/);
    // A slow client that never finishes its headers is dropped after headersTimeout (1s here).
    const slow = connect(gateway.addresses.http?.port as number, '127.0.0.1');
    slow.write('GET /llm/v1/models HTTP/1.1\r\nHost: x\r\n');
    slow.on('error', () => undefined);
    let slowAnswer = '';
    slow.on('data', (chunk) => {
      slowAnswer += chunk.toString('latin1');
    });
    const slowClosed = once(slow, 'close');
    const meanwhile = await fetch(`${base}/llm/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(meanwhile.status, 200, 'other callers are served while the slow client hangs');
    await slowClosed;
    assert.match(slowAnswer, /^HTTP\/1\.1 408/);
    const still = await fetch(`${base}/llm/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(still.status, 200, 'the gateway keeps serving');
  });

  it('maps upstream failures to 502 and 504 without leaking detail', async () => {
    const token = await oidc.token('rag-job');
    const down = await fetch(`${base}/down/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(down.status, 502);
    assert.ok(!(await down.text()).includes('127.0.0.1'));
    const slow = await fetch(`${base}/slow/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(slow.status, 504);
    const unknown = await fetch(`${base}/nowhere`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(unknown.status, 404);
  });

  it('records every session and operation with identity, decision, rule, status and sizes', async () => {
    const token = await oidc.token('rag-job');
    const marker = `audit-${randomUUID()}`;
    await sdk(token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: marker }] });
    await fetch(`${base}/llm/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'x' });
    await gateway.services.recorder.flush();
    const sessions = await gateway.services.store.listSessions({ limit: 50 });
    const mine = sessions.find((s) => s.subject === 'rag-job' && s.operations === 2);
    assert.ok(mine, 'one session for this token with both operations');
    assert.equal(mine.denied, 1);
    assert.deepEqual(mine.groups, ['rag-readers']);
    const detail = await gateway.services.store.getSession(mine.id);
    // As readers see them: an operation may carry its result (see `unfoldResult`).
    const timeline = unfoldResults(detail?.events ?? []);
    const ops = timeline.filter((e) => e.type === 'operation').map((e) => e.payload);
    assert.deepEqual(
      ops.map((p) => [p.action, p.kind, p.model, p.verdict, p.rule]),
      [
        ['POST /v1/chat/completions', 'read', 'gpt-4o-mini', 'allow', 'resources.llm.policy[0]'],
        ['POST /v1/files', 'write', undefined, 'deny', 'default-deny'],
      ],
    );
    const results = timeline.filter((e) => e.type === 'operation.result').map((e) => e.payload);
    assert.equal(results[0]?.status, 200);
    assert.ok(Number(results[0]?.bytesOut) > marker.length);
    assert.ok(Number(results[0]?.bytesIn) > marker.length);
    assert.equal(results[1]?.outcome, 'refused');
    assert.ok(!JSON.stringify(detail).includes(token), 'the audit log never holds the token');
  });

  it('serves health, readiness and metrics on the admin port', async () => {
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
    assert.equal((await fetch(`${admin}/readyz`)).status, 200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gatehouse_requests_total\{protocol="http",resource="llm",outcome="ok"\} \d+/);
    assert.match(metrics, /gatehouse_decisions_total\{protocol="http",resource="llm",verdict="deny"\} \d+/);
    assert.match(metrics, /gatehouse_upstream_duration_seconds_bucket/);
    assert.match(metrics, /gatehouse_auth_failures_total\{protocol="http"\} \d+/);
    // The gateway's own recorder and store: the requests above were recorded, none refused.
    assert.ok(Number(/^gatehouse_audit_events_total (\d+)$/m.exec(metrics)?.[1]) > 0, 'audit events counted');
    assert.match(metrics, /^gatehouse_audit_refused_events_total 0$/m);
    assert.match(metrics, /^gatehouse_audit_spool_backlog_bytes \d+$/m);
  });
});

/** Sends raw bytes and returns whatever the gateway answered before closing. */
async function rawRequest(port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk.toString('latin1');
  });
  socket.on('error', () => undefined);
  socket.write(text);
  await once(socket, 'close');
  return received;
}
