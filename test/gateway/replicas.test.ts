import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.js';
import { type AuditEventInput, unfoldResults } from '../../src/core/audit-event.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type RestartablePostgres, startRestartablePostgres } from '../support/restartable-postgres.js';
import { adminCall, freePort, type GatewayProcess, serveGateway } from './gateway-process.js';

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;
const UPSTREAM_KEY = 'sk-upstream-replicas';
const REQUEST_BUDGET = 3;

interface Replica {
  readonly name: string;
  readonly config: string;
  readonly http: number;
  readonly postgres: number;
  readonly admin: number;
  process?: GatewayProcess;
}

/**
 * Two real `gatehouse serve` processes on one PostgreSQL store (an embedded server that can be stopped and started),
 * in front of a real PostgreSQL backend, an HTTP echo upstream and an OpenAI stand-in.
 */
describe('two gateway replicas on one PostgreSQL store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
  let store: RestartablePostgres;
  let backend: TestPostgres;
  let upstream: Server;
  let standIn: OpenAiStandIn;
  let issuer: DevIssuer;
  const replicas: Replica[] = [];
  let a: Replica;
  let b: Replica;
  let indexerToken: string;
  let ownerToken: string;
  let budgetedToken: string;
  let loaderToken: string;

  const start = async (replica: Replica) => {
    // Each replica appends to a hash chain of its own, named by its instance id.
    replica.process = serveGateway(replica.config, {
      BACKEND_PASSWORD: backend.password,
      GATEHOUSE_INSTANCE_ID: `replica-${replica.name}`,
    });
    await replica.process.ready(replica.admin);
  };
  const pgClient = (replica: Replica, token: string) =>
    new pg.Client({
      host: '127.0.0.1',
      port: replica.postgres,
      user: 'agent',
      password: token,
      database: 'app',
      connectionTimeoutMillis: 5_000,
    });
  const backendQuery = async (text: string) => {
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };
  const review = async (replica: Replica, id: string) =>
    (await adminCall(replica.admin, `/api/reviews/${id}`, ownerToken)).body.review as { state: string };
  /** Sends an unqualified DELETE through `replica` and resolves with the id of the review it is held for. */
  const holdDelete = async (replica: Replica) => {
    const client = pgClient(replica, indexerToken);
    await client.connect();
    client.on('error', () => undefined);
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    const result = client.query('DELETE FROM docs').then(
      (r) => ({ ok: true as const, rowCount: r.rowCount, at: performance.now() }),
      (error: { code?: string; message?: string }) => ({
        ok: false as const,
        code: error.code,
        message: error.message,
      }),
    );
    let id: string | undefined;
    for (let i = 0; i < 200 && id === undefined; i++) {
      id = notices.map((n) => /\b(rv_[0-9a-f]{16})\b/.exec(n)?.[1]).find((x) => x !== undefined);
      if (id === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(id, `a review notice arrived: ${notices.join(' | ')}`);
    return { id, result, client };
  };
  const readyz = async (replica: Replica) => {
    try {
      const res = await fetch(`http://127.0.0.1:${replica.admin}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
    } catch {
      return { status: 0, body: { status: 'unreachable' } };
    }
  };

  before(async () => {
    [store, backend] = await Promise.all([startRestartablePostgres(), startPostgres()]);
    await backendQuery('create table docs (id int primary key, body text)');
    upstream = createServer((req, res) => {
      const body = `echo ${req.url}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY, reply: () => 'ok' });
    const standInUrl = await standIn.start();
    for (const name of ['a', 'b']) {
      const replica: Replica = {
        name,
        config: join(dir, `${name}.yaml`),
        http: await freePort(),
        postgres: await freePort(),
        admin: await freePort(),
      };
      // The poll is slowed to 30 s: a release within seconds comes from the store's notification, not the poll.
      writeFileSync(
        replica.config,
        `listen: { http: 127.0.0.1:${replica.http}, postgres: 127.0.0.1:${replica.postgres}, admin: 127.0.0.1:${replica.admin} }
postgres: { allowPlaintextPassword: true }
log: { level: warn }
identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { postgres: { url: "${store.url}" } }
approvals: { pollInterval: 30s }
quotas:
  budgets:
    - { name: shared, group: budgeted, window: 3650d, requests: ${REQUEST_BUDGET} }
resources:
  - name: app
    protocol: postgres
    target: { host: 127.0.0.1, port: ${backend.port}, database: ${backend.database}, user: ${backend.user}, password: "\${env:BACKEND_PASSWORD}" }
    policy:
      - groups: [indexers]
        allow: [read, write]
        review: [delete-without-where]
        approvers: [data-owners]
  - name: echo
    protocol: http
    pathPrefix: /echo
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [loaders], allow: [read] }]
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${standInUrl}
    credential: { value: "Bearer ${UPSTREAM_KEY}" }
    policy: [{ groups: [budgeted], allow: [read], models: [gpt-4o-mini] }]
`,
      );
      replicas.push(replica);
    }
    [a, b] = replicas as [Replica, Replica];
    // The key file is made here, once, before two processes could race to create it.
    const loaded = parseConfig(readFileSync(a.config, 'utf8'), a.config, { BACKEND_PASSWORD: backend.password });
    issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    indexerToken = await issuer.mint({ subject: 'indexer-job', groups: ['indexers'], ttlMs: 3_600_000 });
    ownerToken = await issuer.mint({ subject: 'alice', groups: ['data-owners'], ttlMs: 3_600_000 });
    budgetedToken = await issuer.mint({ subject: 'budget-job', groups: ['budgeted'], ttlMs: 3_600_000 });
    loaderToken = await issuer.mint({ subject: 'load-job', groups: ['loaders'], ttlMs: 3_600_000 });
    // Both start at once: migrations run under the store's advisory lock.
    await Promise.all([start(a), start(b)]);
  });

  after(async () => {
    for (const replica of replicas) await replica.process?.stop('SIGKILL');
    upstream?.closeAllConnections();
    upstream?.close();
    await standIn?.stop();
    await Promise.allSettled([store?.destroy(), backend?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a statement held on A and approved through B runs on A within a second, once', async () => {
    await backendQuery(`insert into docs values (1, 'one'), (2, 'two')`);
    const held = await holdDelete(a);
    try {
      assert.equal((await review(b, held.id)).state, 'pending');
      const approvedAt = performance.now();
      const decided = await adminCall(b.admin, `/api/reviews/${held.id}/approve`, ownerToken, {});
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
      const outcome = await Promise.race([
        held.result,
        new Promise<'still held'>((r) => setTimeout(() => r('still held'), 5_000)),
      ]);
      assert.notEqual(outcome, 'still held', 'released by the notification, not the 30 s poll');
      assert.ok(outcome !== 'still held' && outcome.ok, JSON.stringify(outcome));
      assert.equal(outcome.rowCount, 2);
      const latency = outcome.at - approvedAt;
      console.log(`# release latency across replicas: ${latency.toFixed(0)} ms (target: under 1000 ms)`);
      assert.equal((await review(a, held.id)).state, 'executed');
      assert.deepEqual(await backendQuery('select count(*)::int as n from docs'), [{ n: 0 }]);
    } finally {
      await held.client.end();
    }
  });

  it('the last requests of a budget are spent once across both replicas', async () => {
    const call = (replica: Replica) =>
      fetch(`http://127.0.0.1:${replica.http}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${budgetedToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      });
    const before = standIn.requestCount;
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i % 2 === 0 ? a : b)));
    assert.equal(statuses.filter((s) => s === 200).length, REQUEST_BUDGET, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 12 - REQUEST_BUDGET, statuses.join(','));
    assert.equal(standIn.requestCount - before, REQUEST_BUDGET, 'only the admitted calls reached the model');
  });

  it('a review held by a replica that is stopped (SIGTERM) or killed (SIGKILL) does not stay pending', async () => {
    await backendQuery(`insert into docs values (3, 'three')`);
    // SIGTERM: the stopping replica withdraws the reviews its callers waited on.
    const stopped = await holdDelete(a);
    assert.equal(await a.process?.stop('SIGTERM'), 0);
    await stopped.result;
    assert.equal((await review(b, stopped.id)).state, 'withdrawn');
    await start(a);
    // SIGKILL: nothing runs at the end; the other replica withdraws the review once the holder's lease lapsed.
    const killed = await holdDelete(a);
    await a.process?.stop('SIGKILL');
    await killed.result;
    let state = 'pending';
    const killedAt = performance.now();
    while (state === 'pending' && performance.now() - killedAt < 20_000) {
      await new Promise((r) => setTimeout(r, 250));
      state = (await review(b, killed.id)).state;
    }
    console.log(`# orphaned review withdrawn ${(performance.now() - killedAt).toFixed(0)} ms after SIGKILL`);
    assert.equal(state, 'withdrawn');
    const late = await adminCall(b.admin, `/api/reviews/${killed.id}/approve`, ownerToken, {});
    assert.equal(late.status, 409, 'a withdrawn review can no longer be approved');
    assert.deepEqual(await backendQuery('select id from docs'), [{ id: 3 }], 'nothing ran');
    await start(a);
  });

  it('the store stopped under load: clean refusals, nothing released unrecorded, traffic and readiness recover', async () => {
    const answered: string[] = [];
    const refused = new Map<number, number>();
    let stop = false;
    let sent = 0;
    const worker = async (w: number) => {
      const replica = w % 2 === 0 ? a : b;
      for (let i = 0; !stop; i++) {
        const marker = `m-${w}-${i}`;
        sent++;
        try {
          const res = await fetch(`http://127.0.0.1:${replica.http}/echo/${marker}`, {
            headers: { authorization: `Bearer ${loaderToken}` },
          });
          const body = await res.text();
          if (res.status === 200 && body === `echo /${marker}`) answered.push(marker);
          else refused.set(res.status, (refused.get(res.status) ?? 0) + 1);
        } catch {
          refused.set(0, (refused.get(0) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
    while (answered.length < 100) await new Promise((r) => setTimeout(r, 20));

    await store.pause();
    const answeredAtStop = answered.length;
    // While the store is away: refusals are 503, PostgreSQL clients get 57P03 or 08006, readiness says not ready.
    await new Promise((r) => setTimeout(r, 1_500));
    const pgDuring = pgClient(b, indexerToken);
    pgDuring.on('error', () => undefined);
    const pgError = await pgDuring
      .connect()
      .then(() => pgDuring.query('select 1'))
      .then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );
    await pgDuring.end().catch(() => undefined);
    assert.ok(
      pgError === '57P03' || pgError === '08006',
      `PostgreSQL clients are refused cleanly (got ${pgError})\n${b.process?.output().slice(-3000)}`,
    );
    const notReady = await Promise.all([readyz(a), readyz(b)]);
    assert.deepEqual(
      notReady.map((r) => r.status),
      [503, 503],
      JSON.stringify(notReady.map((r) => r.body)),
    );
    const duringOutage = answered.length - answeredAtStop;

    await store.resume();
    const resumedAt = performance.now();
    let ready = [0, 0];
    while (performance.now() - resumedAt < 30_000) {
      ready = (await Promise.all([readyz(a), readyz(b)])).map((r) => r.status);
      if (ready[0] === 200 && ready[1] === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(ready, [200, 200], 'both replicas ready again without a restart');
    const answeredAtResume = answered.length;
    const resumeDeadline = performance.now() + 15_000;
    while (answered.length < answeredAtResume + 100 && performance.now() < resumeDeadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    stop = true;
    await load;
    console.log(
      `# store outage: ${sent} sent, ${answered.length} answered (${duringOutage} while the store was away), refusals by status ${JSON.stringify(Object.fromEntries(refused))}`,
    );
    assert.ok(answered.length >= answeredAtResume + 100, 'traffic resumed through both replicas');
    assert.ok((refused.get(503) ?? 0) > 0, 'requests during the outage were refused with 503');
    // 503 before anything went out; a response whose head was already sent when its result record failed is cut
    // (status 0 here), never completed.
    assert.deepEqual(
      [...refused.keys()].filter((s) => s !== 503 && s !== 0),
      [],
      'every refusal was a 503 or a cut connection',
    );

    // Every answered request has its operation and its result in the log.
    const exported = spawnSync(process.execPath, [CLI, 'audit', 'export', '-c', a.config], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, BACKEND_PASSWORD: backend.password },
    });
    assert.equal(exported.status, 0, exported.stderr);
    const events = unfoldResults(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEventInput),
    ) as { sessionId: string; type: string; payload: { seq?: number; text?: string; outcome?: string } }[];
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
    assert.deepEqual(
      answered.filter((m) => !logged.has(m)),
      [],
      'every answered request is in the log',
    );

    // The listening connection came back too: a release across replicas is still pushed, not left to the 30 s poll.
    await backendQuery(`insert into docs values (4, 'four')`);
    const held = await holdDelete(a);
    try {
      const approvedAt = performance.now();
      assert.equal((await adminCall(b.admin, `/api/reviews/${held.id}/approve`, ownerToken, {})).status, 200);
      const outcome = await Promise.race([
        held.result,
        new Promise<'still held'>((r) => setTimeout(() => r('still held'), 5_000)),
      ]);
      assert.ok(outcome !== 'still held' && outcome.ok, JSON.stringify(outcome));
      console.log(`# release latency after the store came back: ${(outcome.at - approvedAt).toFixed(0)} ms`);
    } finally {
      await held.client.end();
    }
  });
});
