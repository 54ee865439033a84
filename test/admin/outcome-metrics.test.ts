import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/gateway/logger.js';
import { HttpListener } from '../../src/protocols/http/listener.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { postgresTargetYaml } from '../support/gateway-config.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';
import { temporaryDirectory } from '../support/temp-dir.js';

const AUDIENCE = 'https://gatehouse.test';
const UPSTREAM_KEY = 'sk-upstream-outcomes';

/**
 * Outcomes are counted the same way on every protocol (issue 28): one real gateway with a PostgreSQL and an HTTP
 * resource, real clients, and the admin listener's /metrics scraped after each step.
 */
describe('request outcomes in /metrics, PostgreSQL and HTTP alike', () => {
  let issuer: LocalIssuer;
  let backend: TestPostgres;
  let standIn: OpenAiStandIn;
  let gateway: Gateway;
  let llm: string;
  let admin: string;
  const clients: pg.Client[] = [];

  const token = (sub: string, groups: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return issuer.sign({ iss: issuer.issuer, aud: AUDIENCE, sub, groups, iat: now, exp: now + 300 });
  };
  const scrape = async () => (await fetch(`${admin}/metrics`)).text();
  /** One series' value in a scrape; 0 when the series is absent. */
  const value = (metrics: string, series: string): number => {
    const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  const requests = (metrics: string, protocol: string, resource: string, outcome: string) =>
    value(metrics, `gatehouse_requests_total{protocol="${protocol}",resource="${resource}",outcome="${outcome}"}`);
  /** Every outcome counted for one resource, summed. */
  const allRequests = (metrics: string, protocol: string, resource: string): number => {
    const prefix = `gatehouse_requests_total{protocol="${protocol}",resource="${resource}",`;
    return metrics
      .split('\n')
      .filter((l) => l.startsWith(prefix))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };
  const connect = async (groups: string[]) => {
    const address = gateway.addresses.postgres as { host: string; port: number };
    const client = new pg.Client({
      ...address,
      user: 'agent',
      database: 'app',
      password: await token('pg-job', groups),
    });
    await client.connect();
    clients.push(client);
    return client;
  };
  const backendQuery = async (sql: string) => {
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  before(async () => {
    issuer = await startLocalIssuer();
    backend = await startPostgres();
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY });
    const upstream = await standIn.start();
    const dir = temporaryDirectory('gh-outcome-metrics-');
    const loaded = parseConfig(
      `
postgres: { allowPlaintextPassword: true }
identity:
  issuers:
    - { issuer: ${issuer.issuer}, audience: ${AUDIENCE}, jwksUri: ${issuer.jwksUri}, algorithms: [ES256] }
store: { sqlite: { path: ${join(dir, 'audit.db')} } }
approvals: { httpWait: 200ms, pollInterval: 100ms }
resources:
  - name: app
    protocol: postgres
${postgresTargetYaml(backend, 'OUTCOME_PG_PASSWORD')}    policy:
      - groups: [readers]
        allow: [read]
      - groups: [writers]
        allow: [read, write, ddl]
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${upstream}
    credential: { value: "Bearer ${UPSTREAM_KEY}" }
    policy:
      - groups: [readers]
        allow: [read]
      - groups: [indexers]
        allow: [read]
        review: [write]
        approvers: [data-owners]
`,
      join(dir, 'gatehouse.yaml'),
      { OUTCOME_PG_PASSWORD: backend.password },
    );
    const free = { host: '127.0.0.1', port: 0 };
    gateway = await Gateway.start(loaded, {
      logger: createLogger('silent'),
      listen: { http: free, postgres: free, admin: free },
    });
    llm = `http://127.0.0.1:${gateway.addresses.http?.port}/llm`;
    admin = `http://127.0.0.1:${gateway.addresses.admin?.port}`;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await gateway?.stop();
    await standIn?.stop();
    await backend?.stop();
    await issuer?.close();
  });

  it('counts a policy denial as outcome="denied" on PostgreSQL and on HTTP, and nothing as "deny"', async () => {
    const client = await connect(['readers']);
    await assert.rejects(client.query('CREATE TABLE outcome_denied_probe (id int)'), /permission denied/);
    const files = await fetch(`${llm}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('reader', ['readers'])}` },
      body: 'payload',
    });
    assert.equal(files.status, 403);
    // The denied statement never reached the backend.
    assert.deepEqual(await backendQuery("SELECT 1 FROM pg_class WHERE relname = 'outcome_denied_probe'"), []);
    const metrics = await scrape();
    assert.equal(requests(metrics, 'postgres', 'app', 'denied'), 1);
    assert.equal(requests(metrics, 'http', 'llm', 'denied'), 1);
    assert.doesNotMatch(metrics, /^gatehouse_requests_total\{[^}]*outcome="deny"\}/m);
  });

  it('counts an approved HTTP request once, as what became of it when it ran', async () => {
    const requester = await token('indexer-job', ['indexers']);
    const approver = await token('alice', ['data-owners']);
    const write = () =>
      fetch(`${llm}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${requester}` }, body: 'p-1' });
    const held = await write();
    assert.equal(held.status, 202);
    const { review } = (await held.json()) as { review: { id: string } };
    const afterHold = await scrape();
    assert.equal(requests(afterHold, 'http', 'llm', 'review'), 1, 'the held request is counted as review');
    const decided = await fetch(`${admin}/api/reviews/${review.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'checked' }),
    });
    assert.equal(decided.status, 200);
    const ran = await write();
    assert.equal(ran.status, 400, 'the stand-in answered: the approved request ran');
    const afterRun = await scrape();
    assert.equal(allRequests(afterRun, 'http', 'llm') - allRequests(afterHold, 'http', 'llm'), 1);
    assert.equal(requests(afterRun, 'http', 'llm', 'ok') - requests(afterHold, 'http', 'llm', 'ok'), 1);
    assert.doesNotMatch(afterRun, /outcome="approved"/);
  });

  it('records gatehouse_upstream_duration_seconds for PostgreSQL statements', async () => {
    const series = 'gatehouse_upstream_duration_seconds_count{protocol="postgres",resource="app"}';
    const before = value(await scrape(), series);
    const client = await connect(['readers']);
    for (let i = 0; i < 3; i++) assert.equal((await client.query('SELECT $1::int AS n', [i])).rows[0].n, i);
    const metrics = await scrape();
    assert.equal(value(metrics, series) - before, 3);
    assert.ok(value(metrics, 'gatehouse_upstream_duration_seconds_sum{protocol="postgres",resource="app"}') > 0);
  });

  it('closing one HTTP listener’s sessions leaves the PostgreSQL sessions gauge alone', async () => {
    const pgSessions = 'gatehouse_active_sessions{protocol="postgres"}';
    const httpSessions = 'gatehouse_active_sessions{protocol="http"}';
    await connect(['readers']);
    const open = value(await scrape(), pgSessions);
    assert.ok(open >= 1, 'the connected client has a PostgreSQL session');
    // A second HTTP listener on the same services: its sessions are the only ones it may close.
    const extra = new HttpListener(gateway.services, { host: '127.0.0.1', port: 0 });
    const { port } = await extra.start();
    try {
      const models = await fetch(`http://127.0.0.1:${port}/llm/v1/models`, {
        headers: { authorization: `Bearer ${await token('reader-2', ['readers'])}` },
      });
      assert.equal(models.status, 200);
      await models.arrayBuffer();
    } finally {
      const httpBefore = value(await scrape(), httpSessions);
      await extra.stop();
      const metrics = await scrape();
      assert.equal(value(metrics, pgSessions), open, 'the PostgreSQL sessions are still counted');
      assert.equal(value(metrics, httpSessions), httpBefore - 1, 'only the closed listener’s session is gone');
    }
  });

  // Last: the audit recorder stays closed.
  it('counts an operation that cannot be recorded as outcome="error" on PostgreSQL and on HTTP', async () => {
    // A write waits for its record (a plain read would overlap it, and count as what the backend did).
    const client = await connect(['writers']);
    const before = await scrape();
    await gateway.services.recorder.close();
    await assert.rejects(client.query('CREATE TABLE outcome_unrecorded (id int)'), { code: '57P03' });
    const models = await fetch(`${llm}/v1/models`, {
      headers: { authorization: `Bearer ${await token('reader-3', ['readers'])}` },
    });
    assert.equal(models.status, 503);
    const metrics = await scrape();
    assert.equal(requests(metrics, 'postgres', 'app', 'error') - requests(before, 'postgres', 'app', 'error'), 1);
    assert.equal(requests(metrics, 'http', 'llm', 'error') - requests(before, 'http', 'llm', 'error'), 1);
    assert.deepEqual(await backendQuery("SELECT 1 FROM pg_class WHERE relname = 'outcome_unrecorded'"), []);
  });
});
