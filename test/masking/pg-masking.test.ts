import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type PgGateway, startPgGateway } from '../support/pg-gateway.js';

const TOKEN_KEY = 'pg-masking-test-token-key-0123456789';
const RAW = {
  email: 'mary.jones@example.com',
  ssn: '078051121',
  phone: '+1 415 555 2671',
  card: '4242 4242 4242 4242',
  note: 'bob@example.org',
};

/** The `app` resource's masking: column rules by table.column, content scanning, an exempt group, a COPY group. */
const MASKING = `
    masking:
      styles: { email: partial }
      columns:
        - column: customers.email
          type: email
          style: tokenize
        - column: '*.ssn'
          type: ssn
          style: partial
      exempt: [auditors]
      groups:
        - groups: [exporters]
          columns: []
`;

describe('PostgreSQL results are masked through the gateway', () => {
  let gw: PgGateway;
  let reader: string;
  let auditor: string;
  let exporter: string;

  before(async () => {
    gw = await startPgGateway({ resourceYaml: MASKING, topLevelYaml: `masking: { tokenKey: ${TOKEN_KEY} }` });
    const admin = await gw.admin();
    await admin.query(`CREATE TABLE customers (id int PRIMARY KEY, email text, ssn text, notes text, profile jsonb)`);
    await admin.query(
      `INSERT INTO customers VALUES
        (1, $1, $2, $3, $4),
        (2, $1, '219099998', 'no personal data here, order ORD-2024-000123', '{"tags":["vip"]}'),
        (3, 'other@example.net', NULL, NULL, NULL)`,
      [
        RAW.email,
        RAW.ssn,
        `call ${RAW.phone} or mail ${RAW.note}, card ${RAW.card}`,
        JSON.stringify({ contact: { email: RAW.note, phones: [RAW.phone] }, n: 4242424242424242 }),
      ],
    );
    await admin.end();
    reader = await gw.mint('rag-job', ['rag-readers']);
    auditor = await gw.mint('audit-job', ['rag-readers', 'auditors']);
    exporter = await gw.mint('export-job', ['rag-readers', 'exporters']);
  });

  after(async () => {
    await gw?.stop();
  });

  async function query(token: string, text: string, values?: unknown[]): Promise<pg.QueryResult> {
    const client = new pg.Client(gw.clientConfig(token));
    await client.connect();
    try {
      return await client.query(text, values);
    } finally {
      await client.end();
    }
  }

  function assertNoRaw(text: string): void {
    for (const [name, value] of Object.entries(RAW)) assert.ok(!text.includes(value), `raw ${name} leaked: ${text}`);
  }

  it('node-postgres: column rules (tokenize, partial) and content scanning of text and jsonb columns', async () => {
    const result = await query(reader, 'SELECT id, email, ssn, notes, profile FROM customers ORDER BY id');
    const [one, two, three] = result.rows as Record<string, unknown>[];
    assert.match(String(one?.email), /^tok_email_[0-9a-f]{16}$/);
    assert.equal(one?.email, two?.email, 'the same value gets the same token (joins and counts still work)');
    assert.notEqual(one?.email, three?.email);
    assert.equal(one?.ssn, '***-**-1121');
    assert.equal(one?.notes, 'call [PHONE] or mail b***@example.org, card [CARD]');
    assert.equal(two?.notes, 'no personal data here, order ORD-2024-000123');
    assert.deepEqual(one?.profile, {
      contact: { email: 'b***@example.org', phones: ['[PHONE]'] },
      n: 4242424242424242,
    });
    assert.equal(three?.ssn, null);
    assertNoRaw(JSON.stringify(result.rows));
  });

  it('a renamed column is still masked: SELECT email AS x (simple and extended protocol)', async () => {
    const simple = await query(reader, 'SELECT email AS x, ssn AS y FROM customers WHERE id = 1');
    assert.match(String(simple.rows[0]?.x), /^tok_email_/);
    assert.equal(simple.rows[0]?.y, '***-**-1121');
    const extended = await query(
      reader,
      'SELECT c.email AS contact, c.ssn AS "who" FROM customers c WHERE id = $1',
      [1],
    );
    assert.match(String(extended.rows[0]?.contact), /^tok_email_/);
    assert.equal(extended.rows[0]?.who, '***-**-1121');
    const named = await query(reader, 'SELECT notes AS n FROM customers WHERE id = $1', [1]);
    assert.equal(named.rows[0]?.n, 'call [PHONE] or mail b***@example.org, card [CARD]');
  });

  it('a large result with every row rewritten arrives whole, in order and masked (rows across socket chunks)', async () => {
    // About 200 KB of rows: several socket chunks, rows cut by their edges, and chunks of rewritten rows written
    // with the messages after them (the relay's frame reader, frame buffer and vectored write).
    const rows = 5000;
    const result = await query(
      reader,
      `SELECT g, 'mail user' || g || '@example.com now, ' || repeat('x', g % 50) AS note FROM generate_series(1, ${rows}) g`,
    );
    assert.equal(result.rows.length, rows);
    for (const [i, row] of (result.rows as { g: number; note: string }[]).entries()) {
      assert.equal(row.g, i + 1);
      assert.equal(row.note, `mail u***@example.com now, ${'x'.repeat((i + 1) % 50)}`);
    }
  });

  it('binary-format text values are masked too', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    await client.connect();
    try {
      const result: pg.QueryResult = await client.query({
        text: 'SELECT email, notes FROM customers WHERE id = 1',
        binary: true,
      } as pg.QueryConfig);
      const email = String(result.rows[0]?.email);
      assert.match(email, /^tok_email_/);
      assertNoRaw(String(result.rows[0]?.notes));
    } finally {
      await client.end();
    }
  });

  it('psql: SELECT with an alias, and COPY TO STDOUT (text and CSV) for a group without column rules', async () => {
    // psql runs as a child process; the gateway lives in this process, so the call must not block the event loop.
    const run = (token: string, sql: string) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'psql',
          ['-X', '-A', '-t', '-h', gw.host, '-p', String(gw.port), '-U', 'agent', '-d', 'app', '-c', sql],
          { env: { ...process.env, PGPASSWORD: token, PGSSLMODE: 'disable' }, encoding: 'utf8', timeout: 30_000 },
          (error, stdout, stderr) => resolve({ status: error ? 1 : 0, stdout, stderr }),
        );
      });
    const select = await run(reader, 'SELECT email AS x, notes FROM customers WHERE id = 1');
    assert.equal(select.status, 0, select.stderr);
    assert.match(
      select.stdout,
      /^tok_email_[0-9a-f]{16}\|call \[PHONE\] or mail b\*\*\*@example\.org, card \[CARD\]$/m,
    );
    assertNoRaw(select.stdout);

    const copy = await run(exporter, 'COPY customers (id, email, notes) TO STDOUT');
    assert.equal(copy.status, 0, copy.stderr);
    assert.match(copy.stdout, /^1\tm\*\*\*@example\.com\tcall \[PHONE\] or mail b\*\*\*@example\.org, card \[CARD\]$/m);
    assertNoRaw(copy.stdout);
    const csv = await run(
      exporter,
      'COPY (SELECT id, notes, profile FROM customers ORDER BY id) TO STDOUT WITH (FORMAT csv)',
    );
    assert.equal(csv.status, 0, csv.stderr);
    assert.match(csv.stdout, /^1,"call \[PHONE\] or mail b\*\*\*@example\.org, card \[CARD\]",/m);
    assertNoRaw(csv.stdout);
  });

  it('fails closed: COPY under column rules ends the session with an error, never the raw rows', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    client.on('error', () => undefined);
    await client.connect();
    const copied = await client.query('COPY customers TO STDOUT').then(
      (r) => JSON.stringify(r),
      (error: Error) => error.message,
    );
    assert.match(copied, /COPY TO STDOUT cannot be masked/);
    assertNoRaw(copied);
    await client.end().catch(() => undefined);
  });

  it('an exempt group (auditors) sees raw values, and the audit record says so', async () => {
    const result = await query(auditor, 'SELECT email, ssn, notes FROM customers WHERE id = 1');
    assert.equal(result.rows[0]?.email, RAW.email);
    assert.equal(result.rows[0]?.ssn, RAW.ssn);
    const events = await gw.events();
    const exempt = events.find(
      (e) => e.type === 'operation' && (e.payload as { masking?: { exempt?: boolean } }).masking?.exempt === true,
    );
    assert.deepEqual((exempt?.payload as { masking?: unknown } | undefined)?.masking, {
      exempt: true,
      group: 'auditors',
    });
  });

  it('audit records hold masked rows only, with per-type counts of what was masked', async () => {
    await query(reader, 'SELECT id, email, ssn, notes FROM customers ORDER BY id');
    const events = await gw.events();
    const masked = events.filter((e) => e.type === 'operation.result' && (e.payload as { masked?: unknown }).masked);
    assert.ok(masked.length > 0);
    const last = masked.at(-1)?.payload as {
      masked: Record<string, number>;
      response: { columns: string[]; rows: (string | null)[][]; tags: string[] };
    };
    assert.deepEqual(last.masked, { email: 4, ssn: 2, phone: 1, card: 1 });
    assert.deepEqual(last.response.columns, ['id', 'email', 'ssn', 'notes']);
    assert.equal(last.response.rows.length, 3);
    assert.deepEqual(last.response.tags, ['SELECT 3']);
    // Everything recorded for callers that are not exempt is masked.
    const nonExempt = events.filter((e) => {
      const p = e.payload as { masking?: { exempt?: boolean } };
      return !(e.type === 'operation' && p.masking?.exempt);
    });
    const exemptSeqs = new Set(
      events
        .filter((e) => e.type === 'operation' && (e.payload as { masking?: { exempt?: boolean } }).masking?.exempt)
        .map((e) => `${e.sessionId}:${(e.payload as { seq: number }).seq}`),
    );
    const recorded = nonExempt
      .filter((e) => !exemptSeqs.has(`${e.sessionId}:${(e.payload as { seq?: number }).seq}`))
      .map((e) => JSON.stringify(e.payload))
      .join('\n');
    assert.ok(!recorded.includes(RAW.email) && !recorded.includes(RAW.card) && !recorded.includes(RAW.ssn));
  });
});
