import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { GatewayMetrics } from '../../src/admin/metrics.js';
import { loadSqlParser } from '../../src/audit/accessed-objects.js';
import { FileSink, WebhookSink } from '../../src/audit/export-sink.js';
import { AuditExporter } from '../../src/audit/exporter.js';
import { ForensicVault } from '../../src/audit/forensic.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { ReportBuilder } from '../../src/audit/report.js';
import { formatReport } from '../../src/audit/report-view.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { AuditEventInput } from '../../src/core/audit-event.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { Session } from '../../src/session/session.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { readAll } from '../store/store-contract.js';

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;
const logger = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'gatehouse-export-'));
after(() => rmSync(root, { recursive: true, force: true }));

const start = (sessionId: string, at: number, subject: string, protocol = 'postgres', resource = 'app') => ({
  sessionId,
  type: 'session.start' as const,
  at,
  payload: { protocol, resource, issuer: 'https://issuer.test', subject, groups: ['g'], tokenId: 't' },
});
const op = (sessionId: string, at: number, seq: number, text: string, verdict: string, extra = {}) => ({
  sessionId,
  type: 'operation' as const,
  at,
  payload: { seq, text, verdict, kind: 'read', rule: 'resources.app.policy[0]', ...extra },
});
const result = (sessionId: string, at: number, seq: number, extra = {}) => ({
  sessionId,
  type: 'operation.result' as const,
  at,
  payload: { seq, outcome: 'ok', ...extra },
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), 'condition reached');
}

describe('continuous export', () => {
  it('delivers every event at least once to a file and a webhook, retrying failures, resuming after restart', async () => {
    const db = join(root, 'export.db');
    const file = join(root, 'siem', 'events.jsonl');
    const posts: string[] = [];
    let refuse = 2;
    const webhook: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        if (refuse-- > 0) {
          res.writeHead(503).end();
          return;
        }
        posts.push(body);
        res.writeHead(204).end();
      });
    });
    webhook.listen(0, '127.0.0.1');
    await once(webhook, 'listening');
    const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/ingest`;
    const sinks = () => [new FileSink('file', file), new WebhookSink('siem', url, { authorization: 'Bearer s' }, 5000)];
    const options = { intervalMs: 10, batch: 4, clock: systemClock, logger, maxBackoffMs: 50 };

    let store = await SqliteStore.open(db);
    await store.migrate();
    await store.appendEvents([start('s1', 1, 'a'), op('s1', 2, 1, 'select 1', 'allow'), result('s1', 3, 1)]);
    await store.appendEvents([op('s1', 4, 2, 'select 2', 'allow'), result('s1', 5, 2)]);
    let exporter = new AuditExporter(store, sinks(), options);
    exporter.start();
    const webhookIds = () =>
      posts.flatMap((p) =>
        p
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: number }).id),
      );
    await until(() => webhookIds().length >= 5);
    await exporter.stop();
    assert.equal((await store.exportCursors('siem')).get('default'), 5);
    assert.equal((await store.exportCursors('file')).get('default'), 5);
    await store.close();

    // A restart: the cursors come from the store, so only new events go out.
    store = await SqliteStore.open(db);
    await store.migrate();
    await store.appendEvents([op('s1', 6, 3, 'select 3', 'allow'), result('s1', 7, 3)]);
    exporter = new AuditExporter(store, sinks(), options);
    exporter.start();
    await until(() => webhookIds().length >= 7);
    await exporter.stop();
    const all = await readAll(store);
    await store.close();
    webhook.close();

    assert.deepEqual(webhookIds(), [1, 2, 3, 4, 5, 6, 7], 'in order, none lost, none repeated after restart');
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; hash: string });
    assert.deepEqual(
      lines.map((l) => l.id),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      lines.map((l) => l.hash),
      all.map((e) => e.hash),
      'exported with their chain hashes',
    );
  });
});

describe('report', () => {
  it('tells who reached which tables, collections and models, what was denied, reviewed and masked', async () => {
    await loadSqlParser();
    const events: AuditEventInput[] = [
      start('p1', 100, 'etl-job'),
      op(
        'p1',
        101,
        1,
        'with recent as (select * from orders) select c.name from recent join public.customers c using (id)',
        'allow',
      ),
      result('p1', 102, 1, { masked: { email: 3, card: 1 } }),
      // Stored with its result (see unfoldResult): counted as if recorded apart.
      op('p1', 103, 2, 'select * from orders', 'allow', {
        result: { durationMs: 1, outcome: 'ok', masked: { email: 2 } },
      }),
      op('p1', 105, 3, 'drop table orders', 'deny', { reason: 'rule-denies' }),
      result('p1', 106, 3, { outcome: 'refused' }),
      op('p1', 107, 4, 'delete from orders', 'review'),
      start('h1', 200, 'rag-agent', 'http', 'qdrant'),
      op('h1', 201, 1, 'POST /collections/docs/points/search', 'allow', { resource: 'qdrant' }),
      start('h2', 300, 'rag-agent', 'http', 'llm'),
      op('h2', 301, 1, 'POST /v1/chat/completions', 'allow', { resource: 'llm', model: 'gpt-4o-mini' }),
      op('h2', 302, 2, 'POST /v1/chat/completions', 'allow', {
        resource: 'llm',
        model: 'gpt-4o-mini',
        maskedRequest: { email: 1, card: 2 },
      }),
      result('h2', 303, 2, { masked: { email: 1 } }),
    ];
    const builder = new ReportBuilder(0, 1000, new Map());
    for (const [i, e] of events.entries())
      builder.add({ ...e, id: i + 1, chain: 'default', seq: i + 1, prevHash: '', hash: '' });
    const report = builder.build();
    const row = (subject: string, resource: string) =>
      report.access.find((r) => r.subject === subject && r.resource === resource);
    assert.deepEqual({ ...row('etl-job', 'app')?.objects }, { orders: 4, 'public.customers': 1 });
    assert.deepEqual(
      { ...row('etl-job', 'app'), objects: undefined, models: undefined, masked: undefined },
      {
        ...row('etl-job', 'app'),
        operations: 4,
        allowed: 2,
        denied: 1,
        reviewed: 1,
        objects: undefined,
        models: undefined,
        masked: undefined,
      },
    );
    assert.deepEqual({ ...row('etl-job', 'app')?.masked }, { email: 5, card: 1 });
    assert.deepEqual({ ...row('rag-agent', 'qdrant')?.objects }, { docs: 1 });
    assert.deepEqual({ ...row('rag-agent', 'llm')?.models }, { 'gpt-4o-mini': 2 });
    // Masked in the prompt before the model saw it, apart from what was masked in the answer.
    assert.deepEqual({ ...row('rag-agent', 'llm')?.maskedInRequests }, { card: 2, email: 1 });
    assert.deepEqual({ ...row('rag-agent', 'llm')?.masked }, { email: 1 });
    assert.deepEqual({ ...row('etl-job', 'app')?.maskedInRequests }, {});
    const text = formatReport(report);
    assert.match(
      text,
      /rag-agent -> llm \(http\).*\n.*models: gpt-4o-mini \(2\)\n\s+masked: email \(1\)\n\s+masked in requests: card \(2\), email \(1\)\n/,
    );
    assert.deepEqual(
      report.denied.map((d) => d.text),
      ['drop table orders'],
    );
    assert.deepEqual(
      report.reviewed.map((d) => d.text),
      ['delete from orders'],
    );
  });
});

describe('forensic copies', () => {
  it('seals the unmasked response, opens it for auditors only through the CLI, and audits every read', async () => {
    const dir = join(root, 'forensic');
    const key = Buffer.alloc(32, 7).toString('base64');
    const configFile = join(dir, 'gatehouse.yaml');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'forensic.key'), key);
    writeFileSync(
      configFile,
      `identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { sqlite: { path: audit.db } }
audit:
  forensic:
    enabled: true
    key: "\${file:forensic.key}"
    auditorGroups: [auditors]
resources:
  - name: app
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy: [{ groups: [readers], allow: [read] }]
`,
    );
    const loaded = loadConfigFile(configFile);
    const store = await SqliteStore.open(join(dir, 'audit.db'));
    await store.migrate();
    const recorder = new AuditRecorder(store, { logger });
    const forensic = ForensicVault.fromConfig(loaded.config.audit.forensic);
    assert.ok(forensic);
    const session = new Session(
      {
        policy: new PolicyEngine(loaded.config.resources),
        recorder,
        clock: systemClock,
        metrics: new GatewayMetrics({ defaultMetrics: false }),
        config: loaded.config,
        forensic,
        store,
      },
      { protocol: 'postgres', resource: 'app', identity: identity(['readers']) },
    );
    const handle = await session.begin({
      protocol: 'postgres',
      resource: 'app',
      kind: 'read',
      tags: [],
      action: 'SELECT',
      text: 'select email from users',
    });
    handle.capture({ type: 'sql-columns', columns: ['email'] });
    handle.capture({ type: 'sql-row', values: ['a***@example.com'] });
    handle.captureForensic({ type: 'sql-columns', columns: ['email'] });
    handle.captureForensic({ type: 'sql-row', values: ['ada@example.com'] });
    await handle.finish({ outcome: 'ok', rows: 1 });
    await session.end('done');
    await recorder.close();
    const raw = JSON.stringify(await readAll(store)) + JSON.stringify(await store.forensicCopies(session.id));
    await store.close();
    assert.ok(!raw.includes('ada@example.com'), 'the store holds the unmasked value only encrypted');
    assert.ok(raw.includes('a***@example.com'), 'the masked capture is in the log');

    const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    const read = async (groups: string[]) =>
      spawnSync(
        process.execPath,
        [
          CLI,
          'audit',
          'forensic',
          session.id,
          '--json',
          '-c',
          configFile,
          '--token',
          await issuer.mint({ subject: `who-${groups[0]}`, groups, ttlMs: 60_000 }),
        ],
        { encoding: 'utf8' },
      );
    const denied = await read(['readers']);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /auditor group/);
    assert.ok(!denied.stdout.includes('ada@example.com'));
    const allowed = await read(['auditors']);
    assert.equal(allowed.status, 0, allowed.stderr);
    const shown = JSON.parse(allowed.stdout) as { copies: { seq: number; response: { rows: string[][] } }[] };
    assert.deepEqual(shown.copies[0]?.response.rows, [['ada@example.com']]);

    const check = await SqliteStore.open(join(dir, 'audit.db'));
    const reads = (await check.getSession(session.id))?.events.filter((e) => e.type === 'forensic.read');
    await check.close();
    assert.deepEqual(
      reads?.map((e) => [e.payload.subject, e.payload.verdict]),
      [
        ['who-readers', 'deny'],
        ['who-auditors', 'allow'],
      ],
    );
  });
});

function identity(groups: string[]) {
  return {
    issuer: 'https://issuer.test',
    subject: 'job',
    groups,
    tokenId: 't1',
    expiresAt: Date.now() + 60_000,
    claims: {},
  };
}
