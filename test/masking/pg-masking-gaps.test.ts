import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import postgres from 'postgres';
import { treatmentOf } from '../../src/protocols/postgres/masking/column-types.js';
import { type PgGateway, startPgGateway } from '../support/pg-gateway.js';
import { RawClient } from '../support/pg-raw-client.js';

/**
 * Masking gaps on the PostgreSQL path (issue 25, findings 6 and 10), each attacked for real through the gateway
 * against the embedded PostgreSQL: errors and notices carrying values, whole rows and composites, citext,
 * NOTIFY payloads, Executes without a Describe in their batch, and binary-format results.
 */
const TOKEN_KEY = 'pg-masking-gaps-test-token-key-0123456789';
const RAW = {
  email: 'mary.jones@example.com',
  ssn: '078-05-1121',
  phone: '+1 415 555 2671',
  card: '4242 4242 4242 4242',
  citext: 'Carl.Case@Example.com',
};

/** A value no detector recognises, masked only by its column rule. */
const CODE = 'ZX81-QUIET-LAKE';

/**
 * Content scanning for everyone, plus column rules on items.email (tokenize) and items.code (redact). `shout` (made
 * below) is vouched for as a read, so a reader may call it and its notices reach the masker.
 */
const MASKING = `
    readFunctions: [shout]
    masking:
      columns:
        - column: items.email
          type: email
          style: tokenize
        - column: items.code
          type: code
`;

describe('PostgreSQL masking gaps (issue 25)', () => {
  let gw: PgGateway;
  let reader: string;

  before(async () => {
    gw = await startPgGateway({ resourceYaml: MASKING, topLevelYaml: `masking: { tokenKey: ${TOKEN_KEY} }` });
    const admin = await gw.admin();
    await admin.query('CREATE EXTENSION IF NOT EXISTS citext');
    await admin.query(`CREATE TABLE items (id int PRIMARY KEY, email text, phone text, note text, contact citext)`);
    // A dropped column: a row's fields are the table's columns that remain, in order.
    await admin.query('ALTER TABLE items ADD COLUMN gone text, ADD COLUMN code text');
    await admin.query('ALTER TABLE items DROP COLUMN gone');
    await admin.query(
      `INSERT INTO items VALUES (1, $1, $2, $3, $4, $5), (2, 'x@example.org', NULL, 'none', NULL, NULL)`,
      [RAW.email, RAW.phone, `ssn ${RAW.ssn} card ${RAW.card}`, RAW.citext, CODE],
    );
    await admin.end();
    reader = await gw.mint('masked-reader', ['rag-readers']);
  });

  after(async () => {
    await gw?.stop();
  });

  function assertNoRaw(text: string, what: string): void {
    for (const [name, value] of Object.entries(RAW)) assert.ok(!text.includes(value), `raw ${name} leaked in ${what}`);
    // The email's local part alone is enough to identify a person.
    assert.ok(!text.includes('mary.jones'), `raw email local part leaked in ${what}`);
  }

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client(gw.clientConfig(reader));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Everything the audit store holds, as one string. */
  async function audited(): Promise<string> {
    return JSON.stringify(await gw.events());
  }

  it('error messages do not carry raw values, to the caller nor to the audit (select email::int)', async () => {
    const client = await connect();
    try {
      for (const sql of [
        'SELECT email::int FROM items WHERE id = 1',
        'SELECT note::int FROM items WHERE id = 1',
        'SELECT phone::numeric FROM items WHERE id = 1',
        'SELECT contact::date FROM items WHERE id = 1',
      ]) {
        const error = (await client.query(sql).then(
          () => undefined,
          (e: unknown) => e,
        )) as (Error & Record<string, unknown>) | undefined;
        assert.ok(error !== undefined, `${sql} should fail`);
        assertNoRaw(JSON.stringify({ ...error, message: error.message }), `the error of ${sql}`);
      }
      // A value only a column rule knows: the data error's quoted value is withheld.
      const coded = await client.query('SELECT code::int FROM items WHERE id = 1').then(
        () => '',
        (e: Error) => JSON.stringify({ ...e, message: e.message }),
      );
      assert.match(coded, /invalid input syntax for type integer: \\"\[WITHHELD\]\\"/);
      assert.ok(!coded.includes(CODE));
      // Extended protocol too (the error answers an Execute).
      const extended = await client.query('SELECT email::int FROM items WHERE id = $1', [1]).then(
        () => '',
        (e: Error) => JSON.stringify({ ...e, message: e.message }),
      );
      assert.match(extended, /invalid input syntax/);
      assertNoRaw(extended, 'an extended-protocol error');
      // RAISE with a DETAIL and a HINT built from values; a do-block is not a read, so a function in a SELECT.
      assert.equal((await client.query('SELECT 1 AS ok')).rows[0]?.ok, 1, 'the session survives');
    } finally {
      await client.end();
    }
    assertNoRaw(await audited(), 'the audit store');
  });

  it('notices and their detail, hint and context fields are masked', async () => {
    const admin = await gw.admin();
    await admin.query(`CREATE OR REPLACE FUNCTION shout(v text) RETURNS int LANGUAGE plpgsql STABLE AS $$
      BEGIN
        RAISE NOTICE 'notice %', v USING DETAIL = 'detail ' || v, HINT = 'hint ' || v;
        RAISE EXCEPTION 'error %', v USING DETAIL = 'detail ' || v, HINT = 'hint ' || v;
      END $$`);
    await admin.end();
    const client = await connect();
    const notices: unknown[] = [];
    client.on('notice', (n) => notices.push({ ...n, message: n.message }));
    try {
      const error = await client.query('SELECT shout(email) FROM items WHERE id = 1').then(
        () => undefined,
        (e: Error) => ({ ...e, message: e.message }),
      );
      assert.ok(error !== undefined);
      assert.equal(notices.length, 1);
      const text = JSON.stringify({ error, notices });
      assert.match(text, /notice \[EMAIL\]/, 'the notice still arrives, masked');
      assertNoRaw(text, 'RAISE notices and errors');
    } finally {
      await client.end();
    }
    assertNoRaw(await audited(), 'the audit store');
  });

  it('whole rows, composites, arrays of composites and json built from rows are scanned', async () => {
    const client = await connect();
    try {
      for (const sql of [
        'SELECT i FROM items i WHERE id = 1',
        'SELECT row(email, phone, note) FROM items WHERE id = 1',
        'SELECT array_agg(i) FROM items i',
        'SELECT array_agg(row(email, note)) FROM items',
        'SELECT to_jsonb(i) FROM items i WHERE id = 1',
        'SELECT row_to_json(i) FROM items i WHERE id = 1',
        'SELECT json_agg(i)::text FROM items i',
        'SELECT contact FROM items WHERE id = 1',
        'SELECT array_agg(contact) FROM items',
        'SELECT email::tsvector FROM items WHERE id = 1',
      ]) {
        const result = await client.query(sql);
        assert.ok(result.rows.length > 0, sql);
        assertNoRaw(JSON.stringify(result.rows), sql);
        const extended = await client.query({ text: sql, values: [] });
        assertNoRaw(JSON.stringify(extended.rows), `${sql} (extended)`);
      }
      // A table's rows (and arrays of them) keep their column rules: the email tokenized, the code redacted.
      for (const sql of ['SELECT i FROM items i WHERE id = 1', 'SELECT array_agg(i ORDER BY id) FROM items i']) {
        const text = JSON.stringify((await client.query(sql)).rows);
        assert.match(text, /tok_email_[0-9a-f]{16}/, sql);
        assert.ok(!text.includes(CODE), `${sql}: the code's column rule applies inside the row`);
      }
      // The masked row is a row PostgreSQL itself reads back, field for field.
      const masked = String((await client.query('SELECT i FROM items i WHERE id = 1')).rows[0]?.i);
      const admin = await gw.admin();
      try {
        const back = (await admin.query('SELECT ($1::items).*', [masked])).rows[0] as Record<string, unknown>;
        assert.equal(back.id, 1);
        assert.match(String(back.email), /^tok_email_[0-9a-f]{16}$/);
        assert.equal(back.phone, '[PHONE]');
        assert.equal(back.note, 'ssn [SSN] card [CARD]');
        assert.equal(back.code, '[CODE]');
      } finally {
        await admin.end();
      }
      // Column rules still apply where the column is known, and numbers, dates and booleans are left alone.
      const plain = await client.query('SELECT id, email, id > 0 AS b, now()::date AS d FROM items WHERE id = 1');
      assert.match(String(plain.rows[0]?.email), /^tok_email_/);
      assert.equal(plain.rows[0]?.id, 1);
      assert.equal(plain.rows[0]?.b, true);
    } finally {
      await client.end();
    }
    assertNoRaw(await audited(), 'the audit store');
  });

  it('the types skipped unscanned are, on the real server, the types their OIDs are said to be (and only those)', async () => {
    const admin = await gw.admin();
    try {
      const { rows } = await admin.query<{ oid: number; typname: string; typcategory: string }>(
        'SELECT oid::int AS oid, typname, typcategory FROM pg_type WHERE oid < 16384',
      );
      const skipped = rows.filter((t) => treatmentOf(t.oid, 0, () => undefined) === 'skip').map((t) => t.typname);
      const SKIPPABLE = new Set([
        'bool',
        'bytea',
        'int2',
        'int4',
        'int8',
        'oid',
        'float4',
        'float8',
        'money',
        'numeric',
        'date',
        'time',
        'timetz',
        'timestamp',
        'timestamptz',
        'interval',
        'uuid',
        'bit',
        'varbit',
        'pg_lsn',
        'xid',
        'xid8',
        'cid',
        'tid',
        'point',
        'lseg',
        'path',
        'box',
        'polygon',
        'line',
        'circle',
        'int4range',
        'numrange',
        'tsrange',
        'tstzrange',
        'daterange',
        'int8range',
        'int4multirange',
        'nummultirange',
        'tsmultirange',
        'tstzmultirange',
        'datemultirange',
        'int8multirange',
      ]);
      for (const name of skipped) assert.ok(SKIPPABLE.has(name.replace(/^_/, '')), `${name} is skipped`);
      assert.equal(skipped.length, 81);
      for (const name of ['text', 'varchar', 'name', 'json', 'jsonb', 'xml', 'record', '_text', 'tsvector', 'inet'])
        assert.notEqual(
          treatmentOf(rows.find((t) => t.typname === name)?.oid ?? 0, 0, () => undefined),
          'skip',
          name,
        );
    } finally {
      await admin.end();
    }
  });

  it('NOTIFY payloads are masked before they reach the listener', async () => {
    const listener = await connect();
    const got: string[] = [];
    listener.on('notification', (n) => got.push(String(n.payload)));
    try {
      await listener.query('LISTEN leaks');
      const admin = await gw.admin();
      await admin.query(`SELECT pg_notify('leaks', $1)`, [`contact ${RAW.email} now`]);
      await admin.end();
      // A query after the notification: the backend sends it before the answer.
      await listener.query('SELECT 1');
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(got.length, 1);
      assert.match(got[0] as string, /^contact \[EMAIL\] now$/);
      assertNoRaw(got.join('\n'), 'a NOTIFY payload');
    } finally {
      await listener.end();
    }
  });

  it('settings reported back (ParameterStatus) are masked: set_config from a value', async () => {
    const client = await RawClient.login(gw.host, gw.port, reader);
    try {
      client.write(
        serialize.query(
          "SELECT set_config('application_name', email, false) IS NOT NULL AS set FROM items WHERE id = 1",
        ),
      );
      const messages = await client.until('readyForQuery');
      // Refused by a stricter read policy is fine too; relayed raw is not.
      if (!messages.some((m) => m.name === 'error')) {
        const status = messages.find((m) => m.name === 'parameterStatus') as unknown as
          | { parameterName: string; parameterValue: string }
          | undefined;
        assert.equal(status?.parameterName, 'application_name');
        assert.equal(status?.parameterValue, '[EMAIL]');
      }
      assertNoRaw(JSON.stringify(messages), 'a reported setting');
    } finally {
      client.close();
    }
  });

  it('an Execute with no Describe in its batch is masked: the gateway describes the portal itself (raw protocol)', async () => {
    const client = await RawClient.login(gw.host, gw.port, reader);
    try {
      // Batch 1, as JDBC and pgx prepare: Parse and Describe the statement, then Sync.
      client.write(
        serialize.parse({ name: 's1', text: 'SELECT id, email, note FROM items WHERE id = $1', types: [23] }),
        serialize.describe({ type: 'S', name: 's1' }),
        serialize.sync(),
      );
      await client.until('readyForQuery');
      // Batch 2, later: Bind and Execute, no Describe.
      client.messages.length = 0;
      client.write(serialize.bind({ statement: 's1', values: ['1'] }), serialize.execute({}), serialize.sync());
      await client.until('readyForQuery');
      const names = client.names();
      assert.deepEqual(names, ['bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
      const row = client.messages.find((m) => m.name === 'dataRow') as unknown as { fields: string[] };
      assert.equal(row.fields[0], '1');
      assert.match(String(row.fields[1]), /^tok_email_/);
      assertNoRaw(JSON.stringify(row.fields), 'a Describe-less Execute');

      // The unnamed statement parsed again with another query and run with no Describe: its old shape must not be
      // reused (it would mask the wrong columns); the gateway learns the new one.
      client.messages.length = 0;
      client.write(
        serialize.parse({ text: 'SELECT note, id, email FROM items WHERE id = 1' }),
        serialize.describe({ type: 'S', name: '' }),
        serialize.sync(),
      );
      await client.until('readyForQuery');
      client.messages.length = 0;
      client.write(
        serialize.parse({ text: 'SELECT email, id, note FROM items WHERE id = 1' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      );
      await client.until('readyForQuery');
      const again = client.messages.find((m) => m.name === 'dataRow') as unknown as { fields: string[] } | undefined;
      assert.ok(again !== undefined, client.names().join(', '));
      assert.match(String(again.fields[0]), /^tok_email_/);
      assertNoRaw(JSON.stringify(again.fields), 'a re-parsed statement executed without Describe');

      // Pipelined, as pgx's batches: the unnamed portal bound to two statements of different shapes in one batch,
      // no Describe; each Execute's rows are masked with their own shape.
      client.messages.length = 0;
      client.write(
        serialize.parse({ name: 's2', text: 'SELECT code, id, email FROM items WHERE id = 1' }),
        serialize.bind({ statement: 's1', values: ['1'] }),
        serialize.execute({}),
        serialize.bind({ statement: 's2' }),
        serialize.execute({}),
        serialize.sync(),
      );
      await client.until('readyForQuery');
      const rows = client.messages.filter((m) => m.name === 'dataRow') as unknown as { fields: string[] }[];
      assert.equal(rows.length, 2, client.names().join(', '));
      assert.match(String(rows[0]?.fields[1]), /^tok_email_/);
      assert.deepEqual(rows[1]?.fields.slice(0, 2), ['[CODE]', '1']);
      assert.match(String(rows[1]?.fields[2]), /^tok_email_/);
      assertNoRaw(JSON.stringify(rows), 'a pipelined batch');
      assert.ok(!JSON.stringify(rows).includes(CODE));
    } finally {
      client.close();
    }
    assertNoRaw(await audited(), 'the audit store');
  });

  it('the postgres package (porsager) in prepared mode reuses statements, and values stay masked', async () => {
    const sql = postgres({ ...gw.clientConfig(reader), username: 'agent', prepare: true, max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 4; i++) {
        const rows = await sql`SELECT id, email, note, contact, i AS whole FROM items i WHERE id = ${1}`;
        assert.equal(rows.length, 1);
        assert.match(String(rows[0]?.email), /^tok_email_/);
        assertNoRaw(JSON.stringify(rows), `porsager run ${i}`);
      }
    } finally {
      await sql.end();
    }
  });

  it('binary-format results: text-like values are masked, others refused rather than relayed raw', async () => {
    const client = await connect();
    try {
      const text = await client.query({
        text: 'SELECT email, contact FROM items WHERE id = 1',
        binary: true,
      } as pg.QueryConfig);
      assertNoRaw(JSON.stringify(text.rows), 'binary text values');
      const composite = await client
        .query({ text: 'SELECT i FROM items i WHERE id = 1', binary: true } as pg.QueryConfig)
        .then(
          (r) => JSON.stringify(r.rows),
          (e: Error) => e.message,
        );
      assertNoRaw(composite, 'a binary composite');
      const numbers = await connect();
      try {
        const result = await numbers.query({
          text: 'SELECT id, id > 0 AS b FROM items WHERE id = 1',
          binary: true,
        } as pg.QueryConfig);
        assert.equal(result.rows.length, 1, 'binary numbers and booleans need no masking and pass');
      } finally {
        await numbers.end();
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('after all of the above, the audit store holds no raw value (errors, notices, rows, settings, batches)', async () => {
    const events = await gw.events();
    assert.ok(events.length > 20);
    assertNoRaw(JSON.stringify(events), 'the audit store');
  });
});
