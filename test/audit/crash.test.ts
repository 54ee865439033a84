import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateCheckpointKeys } from '../../src/audit/checkpoint.js';
import { loadConfigFile } from '../../src/config/load.js';
import { type AuditEventInput, unfoldResults } from '../../src/core/audit-event.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** GET with the whole body read; resolves with the body only when the response completed. */
function get(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => (res.complete ? resolve({ status: res.statusCode ?? 0, body }) : reject(new Error('cut'))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUntilServing(port: number, token: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      await get(port, '/echo/ready', token);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('gateway did not start');
}

describe('crash: the gateway is killed (SIGKILL) under load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-crash-'));
  let upstream: Server;
  let config: string;
  let port: number;
  let token: string;
  const children: ChildProcess[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      setImmediate(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`echo ${req.url}`);
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    port = await freePort();
    const keys = generateCheckpointKeys();
    writeFileSync(join(dir, 'signing.pem'), keys.privatePem, { mode: 0o600 });
    config = join(dir, 'gatehouse.yaml');
    writeFileSync(
      config,
      `listen: { http: 127.0.0.1:${port} }
log: { level: warn }
identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { sqlite: { path: audit.db } }
audit:
  checkpoints:
    signingKey: "\${file:signing.pem}"
    interval: 1s
resources:
  - name: echo
    protocol: http
    pathPrefix: /echo
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [loaders], allow: [read] }]
`,
    );
    const loaded = loadConfigFile(config);
    const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    token = await issuer.mint({ subject: 'load-job', groups: ['loaders'], ttlMs: 600_000 });
  });

  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    upstream?.closeAllConnections();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = () => {
    const child = spawn(process.execPath, [CLI, 'serve', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    return child;
  };

  it('keeps every operation whose response a client received, and the chain verifies after restart', async () => {
    const first = serve();
    await waitUntilServing(port, token, first);
    const received: string[] = [];
    let sent = 0;
    let killed = false;
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        const marker = `m-${w}-${i}`;
        sent++;
        try {
          const res = await get(port, `/echo/${marker}`, token);
          if (res.status === 200 && res.body === `echo /${marker}`) received.push(marker);
        } catch {
          // In flight when the gateway died: the client got no complete response, so nothing is promised.
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    while (received.length < 300) await new Promise((r) => setTimeout(r, 20));
    first.kill('SIGKILL');
    killed = true;
    await once(first, 'exit');
    await load;
    // It recorded through its spool: a killed gateway leaves its segment behind (a stopped one deletes it).
    assert.ok(readdirSync(join(dir, 'audit.db-spool')).length > 0, 'the killed gateway left its spool segment');
    assert.ok(
      sent > received.length,
      `some requests were in flight at the kill (${sent} sent, ${received.length} answered)`,
    );

    const second = serve();
    await waitUntilServing(port, token, second);
    const afterRestart = await get(port, '/echo/after-restart', token);
    assert.equal(afterRestart.status, 200);
    second.kill('SIGTERM');
    const [code] = await once(second, 'exit');
    assert.equal(code, 0);

    const exported = spawnSync(process.execPath, [CLI, 'audit', 'export', '-c', config], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(exported.status, 0, exported.stderr);
    // Export keeps stored events as chained: an operation may carry its result (unfolded as readers do).
    const events = unfoldResults(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEventInput),
    ) as {
      sessionId: string;
      type: string;
      payload: { seq?: number; text?: string; outcome?: string };
    }[];
    const results = new Set(
      events
        .filter((e) => e.type === 'operation.result' && e.payload.outcome === 'ok')
        .map((e) => `${e.sessionId}#${e.payload.seq}`),
    );
    const logged = new Set<string>();
    for (const e of events) {
      const marker = /\/(m-\d+-\d+)$/.exec(e.payload.text ?? '')?.[1];
      if (e.type === 'operation' && marker && results.has(`${e.sessionId}#${e.payload.seq}`)) logged.add(marker);
    }
    const missing = received.filter((m) => !logged.has(m));
    assert.deepEqual(
      missing,
      [],
      `${received.length} answered requests, all with their operation and result in the log`,
    );

    const verify = spawnSync(process.execPath, [CLI, 'audit', 'verify', '-c', config], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /audit chain default OK/);
  });
});
