import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { startHttpGateway } from '../../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';

const AUDIENCE = 'https://gatehouse.test';

/** maxResultBytes on the HTTP path, against a real upstream: refused when declared too large, cut when streamed. */
describe('HTTP responses over maxResultBytes', () => {
  let issuer: LocalIssuer;
  let upstream: Server;
  let gateway: Gateway;
  let base: string;
  let bearer: string;

  before(async () => {
    issuer = await startLocalIssuer();
    upstream = createServer((req, res) => {
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? '10');
      const body = Buffer.alloc(size, 'a');
      if (req.url?.startsWith('/stream')) {
        // No content-length: chunked, in pieces.
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let at = 0; at < size; at += 64) res.write(body.subarray(at, at + 64));
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) });
        res.end(body);
      }
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const started = await startHttpGateway({
      dirPrefix: 'gh-result-bytes-',
      issuers: [{ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, algorithms: ['ES256'] }],
      yaml: `
resources:
  - name: files
    protocol: http
    pathPrefix: /files
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy:
      - groups: [readers]
        allow: [read]
        maxResultBytes: 1000
`,
    });
    gateway = started.gateway;
    base = `${started.base}/files`;
    const now = Math.floor(Date.now() / 1000);
    bearer = await issuer.sign({
      iss: issuer.issuer,
      aud: AUDIENCE,
      sub: 'r',
      groups: ['readers'],
      iat: now,
      exp: now + 300,
    });
  });

  after(async () => {
    await gateway?.stop();
    upstream?.close();
    await issuer?.close();
  });

  const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
  const lastResult = async () => {
    await gateway.services.recorder.flush();
    const events = await gateway.services.store.readEvents(0, 100_000);
    return events.filter((e) => e.type === 'operation.result' || e.type === 'operation').at(-1)?.payload as
      | Record<string, unknown>
      | undefined;
  };

  it('a response within the limit passes whole', async () => {
    for (const path of ['/file?size=1000', '/stream?size=1000']) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.equal((await response.text()).length, 1000, path);
    }
  });

  it('a response that declares more than the limit is refused with 403 naming the limit', async () => {
    const response = await get('/file?size=5000');
    assert.equal(response.status, 403);
    const body = (await response.json()) as { error: { message: string } };
    assert.match(body.error.message, /5000 bytes, over maxResultBytes 1000/);
    assert.match(JSON.stringify(await lastResult()), /result-limit/);
  });

  it('a streamed response is cut at the limit: the caller sees a failed body, never a short whole one', async () => {
    const response = await get('/stream?size=5000');
    assert.equal(response.status, 200, 'the head went out before the limit was crossed');
    await assert.rejects(response.text());
    assert.match(JSON.stringify(await lastResult()), /result-limit/);
  });
});
