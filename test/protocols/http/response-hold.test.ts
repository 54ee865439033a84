import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AuditEventInput } from '../../../src/core/audit-event.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { startHttpGateway } from '../../support/http-gateway.js';

const BODY = Buffer.alloc(48 * 1024, 'x');

/**
 * The promise: a response with a Content-Length does not reach the caller complete before its result record is
 * durable. The store's writes of result records are held back here (a slow disk), and the raw bytes the caller
 * received are counted while they wait.
 */
describe('HTTP: the end of a response waits for its result record', () => {
  let upstream: Server;
  let gateway: Gateway;
  let token: string;
  let releaseResults: (() => void) | undefined;
  let resultWriteHeld: (() => void) | undefined;

  before(async () => {
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
      res.end(BODY);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const started = await startHttpGateway({
      dirPrefix: 'gh-hold-',
      devIssuer: { keyFile: 'dev.jwk.json' },
      yaml: `
resources:
  - name: files
    protocol: http
    pathPrefix: /files
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [readers], allow: [read] }]
`,
    });
    gateway = started.gateway;
    token = await started.mint('reader', ['readers']);
    // A slow store for result records only: the write of a batch holding a result waits for the test.
    const store = gateway.services.store;
    const record = store.recordEvents.bind(store);
    store.recordEvents = async (events: readonly AuditEventInput[]) => {
      const holdsResult = events.some(
        (e) => e.type === 'operation.result' || (e.type === 'operation' && 'result' in e.payload),
      );
      if (holdsResult && releaseResults === undefined) {
        await new Promise<void>((resolve) => {
          releaseResults = resolve;
          resultWriteHeld?.();
        });
      }
      return record(events);
    };
  });

  after(async () => {
    releaseResults?.();
    await gateway?.stop();
    upstream?.close();
  });

  it('holds the last byte until the result record is durable, then completes the response', async () => {
    const held = new Promise<void>((resolve) => {
      resultWriteHeld = resolve;
    });
    const socket: Socket = connect(gateway.addresses.http?.port as number, '127.0.0.1');
    await once(socket, 'connect');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.write(`GET /files/report.bin HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${token}\r\n\r\n`);
    await held;
    // Give the gateway every chance to send what it would send while the result write is held.
    await new Promise((r) => setTimeout(r, 300));
    const headEnd = received.indexOf('\r\n\r\n');
    assert.ok(headEnd > 0, 'the head went out');
    const head = received.subarray(0, headEnd).toString('latin1');
    assert.match(head, new RegExp(`content-length: ${BODY.length}`, 'i'));
    const bodyBytes = received.length - headEnd - 4;
    assert.ok(bodyBytes < BODY.length, `the body is not complete while its result is unrecorded (${bodyBytes} bytes)`);
    releaseResults?.();
    const until = performance.now() + 5_000;
    while (received.length - headEnd - 4 < BODY.length && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(received.length - headEnd - 4, BODY.length, 'complete once the result is durable');
    assert.ok(received.subarray(headEnd + 4).equals(BODY));
    socket.destroy();
  });
});
