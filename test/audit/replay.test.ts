import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import { buildTimeline, type OperationEntry } from '../../src/audit/replay.js';
import { formatPsqlTable, renderReplayText } from '../../src/audit/replay-view.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startHttpGateway } from '../support/http-gateway.js';
import { type PgGateway, startPgGateway } from '../support/pg-gateway.js';

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

/** Cells of the psql-style tables in a replay, table by table: the inverse of the layout, for comparison. */
function parseTables(text: string): { columns: string[]; rows: string[][] }[] {
  const lines = text.split('\n');
  const tables: { columns: string[]; rows: string[][] }[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!/^-+(\+-+)*$/.test(lines[i]!)) continue;
    const cells = (line: string) =>
      line
        .slice(1)
        .split(' | ')
        .map((c) => c.trim());
    const columns = cells(lines[i - 1]!);
    const rows: string[][] = [];
    for (i++; i < lines.length && !/^\(\d+ rows?\)$/.test(lines[i]!); i++) rows.push(cells(lines[i]!));
    tables.push({ columns, rows });
  }
  return tables;
}

describe('replay of a recorded PostgreSQL session', () => {
  let gw: PgGateway;
  before(async () => {
    gw = await startPgGateway();
  });
  after(async () => {
    await gw?.stop();
  });

  it('prints each statement with the table the client received', async () => {
    const admin = await gw.admin();
    await admin.query(`create table if not exists replay_orders (id int primary key, customer text, total numeric(8,2));
      delete from replay_orders;
      insert into replay_orders values (1, 'ada', 12.50), (2, 'grace', 7.00), (3, null, 199.99)`);
    await admin.end();

    const client = new pg.Client({
      ...gw.clientConfig(await gw.mint('replay-job', ['rag-readers'])),
      // Values as the wire carried them (text), which is what the recording keeps.
      types: { getTypeParser: () => (value: string) => value },
    });
    await client.connect();
    const queries = [
      'select id, customer, total from replay_orders order by id',
      'select count(*) as orders, sum(total) as revenue from replay_orders where customer is not null',
    ];
    const seen: { columns: string[]; rows: (string | null)[][] }[] = [];
    for (const text of queries) {
      const result = await client.query({ text, rowMode: 'array' });
      seen.push({ columns: result.fields.map((f) => f.name), rows: result.rows as (string | null)[][] });
    }
    await client.query('delete from replay_orders').catch(() => undefined); // denied: rag-readers may only read
    await client.end();
    await gw.events();

    const [summary] = await gw.store.listSessions({ limit: 1, subject: 'replay-job' });
    assert.ok(summary, 'the session was recorded');
    const found = await gw.store.getSession(summary.id);
    const timeline = buildTimeline(found!.summary, found!.events);
    const ops = timeline.entries.filter((e): e is OperationEntry => e.type === 'operation');
    assert.deepEqual(
      ops.map((o) => [o.text, o.verdict]),
      [...queries.map((q) => [q, 'allow']), ['delete from replay_orders', 'deny']],
    );

    const text = renderReplayText(timeline);
    const tables = parseTables(text);
    assert.equal(tables.length, 2, text);
    for (const [i, table] of tables.entries()) {
      assert.deepEqual(table.columns, seen[i]!.columns);
      // psql shows NULL as an empty cell.
      assert.deepEqual(
        table.rows,
        seen[i]!.rows.map((r) => r.map((v) => v ?? '')),
      );
    }
    assert.ok(text.includes(formatPsqlTable(seen[0]!.columns, seen[0]!.rows)), 'laid out exactly as psql would');
    assert.match(text, /SELECT 3\n/);
    assert.match(text, /#3 write DENY .*delete from replay_orders/);
  });
});

describe('replay of a recorded HTTP streamed completion', () => {
  let standIn: OpenAiStandIn;
  let gateway: Gateway | undefined;

  before(async () => {
    standIn = new OpenAiStandIn({ apiKey: 'sk-upstream' });
  });
  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
  });

  it('reassembles the streamed text the client saw, in the library and through the CLI', async () => {
    const started = await startHttpGateway({
      dirPrefix: 'gatehouse-replay-http-',
      logLevel: 'silent',
      devIssuer: { keyFile: 'dev.jwk.json' },
      yaml: `audit: { captureBytes: 65536 }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${await standIn.start()}
    credential: { value: "Bearer sk-upstream" }
    policy: [{ groups: [rag-readers], allow: [read] }]
`,
    });
    gateway = started.gateway;
    const { configFile } = started;
    const token = await started.mint('chat-agent', ['rag-readers'], 300_000);
    const sdk = new OpenAI({ baseURL: `${started.base}/llm/v1`, apiKey: token, maxRetries: 0 });
    const stream = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'replay this streamed answer, several chunks long, with ünïcode ✓' }],
    });
    let clientText = '';
    for await (const chunk of stream) clientText += chunk.choices[0]?.delta.content ?? '';
    assert.ok(clientText.length > 40);
    await gateway.stop();
    gateway = undefined;

    const store = await SqliteStore.open(join(dirname(configFile), 'audit.db'));
    const [summary] = await store.listSessions({ limit: 1 });
    const found = await store.getSession(summary!.id);
    await store.close();
    const op = buildTimeline(found!.summary, found!.events).entries.find(
      (e): e is OperationEntry => e.type === 'operation',
    );
    const response = op?.result?.response;
    assert.equal(response?.type, 'http');
    assert.equal(response.type === 'http' && response.stream?.text, clientText);
    assert.equal(response.type === 'http' && response.stream?.complete, true);

    const run = spawnSync(process.execPath, [CLI, 'sessions', 'replay', summary!.id.slice(0, 8), '-c', configFile], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      /#1 read ALLOW model=gpt-4o-mini POST \/v1\/chat\/completions|#1 read ALLOW model=gpt-4o-mini POST/,
    );
    assert.match(run.stdout, /<- 200 text\/event-stream/);
    assert.ok(run.stdout.includes(`    ${clientText}\n`), run.stdout);
  });
});
