import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { readinessOf } from '../support/readiness.js';
import { freePort, type GatewayProcess, serveGateway } from './gateway-process.js';

/**
 * A real gateway process on a PostgreSQL store whose role stops being allowed to write the audit log while traffic
 * runs: first it loses INSERT on audit_events (on the live connections), then its database turns read-only for every
 * new session (`default_transaction_read_only`, the connections cut so they come back read-only). Callers must get
 * a clean refusal (SQLSTATE 57P03 on the PostgreSQL path, 503 on HTTP), no write may reach the backend, readiness
 * must say so, and traffic must resume without a restart once the store takes writes again.
 */
for (const writerThread of [false, true]) describeReadOnlyStore(writerThread);

function describeReadOnlyStore(writerThread: boolean): void {
  describe(`a PostgreSQL store that stops taking writes, under a real gateway process (writer thread: ${writerThread})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-read-only-store-'));
    const role = `gh_store_${randomBytes(4).toString('hex')}`;
    const rolePassword = randomBytes(12).toString('hex');
    let server: TestPostgres;
    let upstream: Server;
    let upstreamHits = 0;
    let gateway: GatewayProcess;
    let ports: { http: number; postgres: number; admin: number };
    let token: string;

    /** A statement as superuser, on the store's database or the backend's. */
    const query = async (database: string, text: string) => {
      const url = new URL(server.url);
      url.pathname = `/${database}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        return (await client.query(text)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    };
    const storeQuery = (text: string) => query(role, text);
    const backendQuery = (text: string) => query(server.database, text);
    /** One statement through the gateway, on a connection of its own: its rows, or the error's SQLSTATE. */
    const throughGateway = async (text: string) => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: ports.postgres,
        user: 'agent',
        password: token,
        database: 'app',
        connectionTimeoutMillis: 5_000,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const result = await client.query(text);
        return { ok: true as const, rows: result.rows as Record<string, unknown>[] };
      } catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        return { ok: false as const, code, message };
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    const httpGet = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${ports.http}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: res.status, body: await res.text() };
    };
    const { readyz, waitForReady } = readinessOf(() => ports.admin);
    /** Retries `attempt` until it passes or `withinMs` is up (a reconnecting writer may refuse a first try). */
    const eventually = async <T>(attempt: () => Promise<T>, passes: (value: T) => boolean, withinMs: number) => {
      const until = performance.now() + withinMs;
      let last = await attempt();
      while (!passes(last) && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        last = await attempt();
      }
      return last;
    };
    const docIds = async () =>
      (await backendQuery('select id from docs order by id')).map((r) => Number(r.id as number | string));
    /** What the store's log holds about the docs table: the statements' texts. */
    const recordedTexts = async () =>
      (await storeQuery("select payload from audit_events where type = 'operation'")).map(
        (r) => (JSON.parse(r.payload as string) as { text?: string }).text ?? '',
      );

    /** While the store refuses: writes are refused before they run, reads release nothing, HTTP answers 503. */
    const assertRefusedCleanly = async (label: string, id: number) => {
      const write = await eventually(
        () => throughGateway(`insert into docs values (${id}, '${label}')`),
        (r) => !r.ok,
        5_000,
      );
      assert.equal(write.ok, false, `${label}: the write was refused`);
      if (!write.ok) assert.equal(write.code, '57P03', `${label}: ${write.message}`);
      const read = await throughGateway('select id, body from docs');
      assert.equal(read.ok, false, `${label}: a read releases no rows`);
      if (!read.ok) assert.equal(read.code, '57P03', `${label}: ${read.message}`);
      const hitsBefore = upstreamHits;
      const http = await httpGet(`/echo/${label}`);
      assert.equal(http.status, 503, `${label}: HTTP ${http.status} ${http.body}`);
      assert.ok(!http.body.includes('echo /'), `${label}: the upstream's answer is not released`);
      assert.ok(upstreamHits - hitsBefore <= 1, `${label}: the upstream was called at most for this one request`);
      const notReady = await waitForReady(503, 10_000);
      assert.equal(notReady.status, 503, `${label}: ${JSON.stringify(notReady.body)}`);
      assert.ok(!(await docIds()).includes(id), `${label}: the refused write did not reach the backend`);
    };
    /** The store takes writes again: traffic resumes without a restart, and readiness follows. */
    const assertResumes = async (label: string, id: number) => {
      const write = await eventually(
        () => throughGateway(`insert into docs values (${id}, '${label}')`),
        (r) => r.ok,
        15_000,
      );
      assert.equal(write.ok, true, `${label}: ${JSON.stringify(write)}`);
      assert.ok((await docIds()).includes(id));
      assert.ok(
        (await recordedTexts()).some((t) => t.includes(`values (${id},`)),
        `${label}: the write that ran is in the log`,
      );
      const http = await httpGet(`/echo/${label}`);
      assert.equal(http.status, 200, `${label}: HTTP ${http.body}\n${gateway.output().slice(-3000)}`);
      const ready = await waitForReady(200, 15_000);
      assert.equal(ready.status, 200, `${label}: ${JSON.stringify(ready.body)}`);
    };

    before(async () => {
      server = await startPostgres();
      await query(server.database, `create role ${role} login password '${rolePassword}'`);
      await query(server.database, `create database ${role} owner ${role}`);
      await backendQuery('create table docs (id int primary key, body text)');
      upstream = createServer((req, res) => {
        upstreamHits += 1;
        const body = `echo ${req.url}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      upstream.listen(0, '127.0.0.1');
      await once(upstream, 'listening');
      ports = { http: await freePort(), postgres: await freePort(), admin: await freePort() };
      const storeUrl = `postgres://${role}:${rolePassword}@127.0.0.1:${server.port}/${role}`;
      const config = join(dir, 'gatehouse.yaml');
      writeFileSync(
        config,
        `listen: { http: 127.0.0.1:${ports.http}, postgres: 127.0.0.1:${ports.postgres}, admin: 127.0.0.1:${ports.admin} }
postgres: { allowPlaintextPassword: true }
log: { level: warn }
identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { postgres: { url: "${storeUrl}", writerThread: ${writerThread} } }
resources:
  - name: app
    protocol: postgres
    target: { host: 127.0.0.1, port: ${server.port}, database: ${server.database}, user: ${server.user}, password: "\${env:BACKEND_PASSWORD}" }
    policy: [{ groups: [writers], allow: [read, write] }]
  - name: echo
    protocol: http
    pathPrefix: /echo
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [writers], allow: [read] }]
`,
      );
      const loaded = parseConfig(readFileSync(config, 'utf8'), config, { BACKEND_PASSWORD: server.password });
      const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
      token = await issuer.mint({ subject: 'writer-job', groups: ['writers'], ttlMs: 3_600_000 });
      gateway = serveGateway(config, { BACKEND_PASSWORD: server.password, GATEHOUSE_INSTANCE_ID: 'read-only-test' });
      await gateway.ready(ports.admin);
    });

    after(async () => {
      await gateway?.stop('SIGKILL');
      upstream?.closeAllConnections();
      upstream?.close();
      if (server) {
        await query(server.database, `drop database if exists ${role} with (force)`).catch(() => undefined);
        await query(server.database, `drop role if exists ${role}`).catch(() => undefined);
        await server.stop();
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses cleanly when the store role loses INSERT on the log, and resumes when it is granted back', async () => {
      const first = await throughGateway(`insert into docs values (1, 'before')`);
      assert.equal(first.ok, true, JSON.stringify(first));
      assert.equal((await readyz()).status, 200);

      // On the live connections: privileges are checked at every execution, prepared statement or not.
      await storeQuery(`revoke insert on audit_events from ${role}`);
      await assertRefusedCleanly('no-insert', 2);

      await storeQuery(`grant insert on audit_events to ${role}`);
      await assertResumes('insert-again', 3);
    });

    it('refuses cleanly when the store database turns read-only for new sessions, and resumes after', async () => {
      await query(server.database, `alter database ${role} set default_transaction_read_only = on`);
      // The gateway's connections are cut, so the ones it opens again are read-only sessions.
      const cut = `select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`;
      await query(server.database, cut);
      await assertRefusedCleanly('read-only', 4);

      await query(server.database, `alter database ${role} reset default_transaction_read_only`);
      await query(server.database, cut);
      await assertResumes('writable-again', 5);

      // The refusals left a trace in the store once it took writes again (the instance's heartbeat carries the count).
      const traced = await eventually(
        () => storeQuery('select coalesce(sum(refused_events), 0)::int as refused from gateway_instances'),
        (rows) => Number(rows[0]?.refused) >= 2,
        15_000,
      );
      assert.ok(Number(traced[0]?.refused) >= 2, `refused events counted in the store: ${JSON.stringify(traced)}`);

      // Every write that reached the backend is in the log; none of the refused ones is.
      const texts = await recordedTexts();
      for (const id of await docIds()) {
        assert.ok(
          texts.some((t) => t.includes(`values (${id},`)),
          `row ${id} in the backend has its record in the log`,
        );
      }
      assert.deepEqual(await docIds(), [1, 3, 5]);
    });
  });
}
