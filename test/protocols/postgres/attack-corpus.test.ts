/**
 * A corpus of statements that write, run code, read server files or change settings while looking like reads (from
 * issue 25's findings and the usual PostgreSQL privilege-escalation tricks: functions that run SQL text, large
 * objects, column notation, settings, EXPLAIN options, MERGE, COPY PROGRAM...), each wrapped the ways a read can hide
 * a call (sub-query, CTE, LATERAL, EXISTS, CASE, EXPLAIN ANALYZE, PREPARE, DECLARE, a second statement). A reader
 * sends every one through the gateway to a real PostgreSQL whose backend login is a superuser: in the simple
 * protocol alone, batched in one message, and in the extended protocol. The gateway itself must refuse each (42501
 * naming its rule, not an error of the server's); the database's fingerprint (catalog, data, large objects, role and
 * database settings, sequences, locks), taken directly, must be unchanged; the reader's session settings must be
 * unchanged; the canary file that COPY ... TO PROGRAM or lo_export would create must not exist; and, with the
 * backend logging every statement (`log_statement = all`, embedded server), none of the corpus reached it and every
 * statement the reader's sessions did run there is in the audit log as an allowed read or session statement.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

/** The reader's sessions, as the backend's log names them. */
const APPLICATION = 'corpus-reader';

const POLICY = `
      - groups: [rag-readers]
        allow: [read]`;

/** Expressions with an effect beyond reading the database (`CANARY` is replaced by the canary file's path). */
const PAYLOADS: readonly string[] = [
  "lo_from_bytea(0, 'x')",
  'lo_create(0)',
  'lo_creat(-1)',
  "lo_put(9001, 0, 'evil')",
  'lo_unlink(9001)',
  "lo_import('/etc/hostname')",
  "lo_export(9001, 'CANARY')",
  "lowrite(0, 'x')",
  '(9001::oid).lo_unlink',
  "pg_notify('gatehouse', 'x')",
  'pg_advisory_lock(1)',
  'pg_try_advisory_lock(1)',
  'pg_advisory_xact_lock(1)',
  "nextval('counter')",
  "setval('counter', 99)",
  'txid_current()',
  'pg_current_xact_id()',
  "pg_import_system_collations('pg_catalog')",
  "pg_logical_emit_message(false, 'p', 'x')",
  "set_config('log_statement', 'none', false)",
  "set_config('client_encoding', 'SJIS', false)",
  "set_config('search_path', 'evil', false)",
  "set_config('default_transaction_read_only', 'off', false)",
  "set_config('role', 'postgres', false)",
  "pg_read_file('PG_VERSION')",
  "pg_read_binary_file('PG_VERSION')",
  "pg_stat_file('PG_VERSION')",
  "('PG_VERSION'::text).pg_read_file",
  'pg_current_logfile()',
  'pg_terminate_backend(pg_backend_pid() + 100000)',
  'pg_cancel_backend(0)',
  'pg_reload_conf()',
  'pg_rotate_logfile()',
  "pg_create_restore_point('x')",
  'pg_stat_reset()',
  "ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery')",
  "query_to_xml('select lo_from_bytea(0, ''x'')', true, true, '')",
  "query_to_xmlschema('select 1', true, true, '')",
  "run_sql('select lo_from_bytea(0, ''x'')')",
  'public.evil_write()',
  'evil_write()',
  "pg_create_physical_replication_slot('gatehouse_slot')",
];

/** Ways a read hides a call. `N` is replaced by a number unique to the statement. */
const WRAPPERS: readonly ((p: string) => string)[] = [
  (p) => `SELECT ${p}`,
  (p) => `SELECT * FROM (SELECT ${p} AS v) s`,
  (p) => `WITH x AS (SELECT ${p} AS v) SELECT * FROM x`,
  (p) => `SELECT 1 WHERE EXISTS (SELECT ${p})`,
  (p) => `SELECT i.id FROM items i, LATERAL (SELECT ${p} AS v) l WHERE i.id = 1`,
  (p) => `SELECT CASE WHEN id = 1 THEN (${p})::text END FROM items WHERE id = 1`,
  (p) => `EXPLAIN (ANALYZE false, ANALYZE true) SELECT ${p}`,
  (p) => `PREPARE attack_N AS SELECT ${p}`,
];

/** Whole statements. */
const STATEMENTS: readonly string[] = [
  "SET log_statement = 'none'",
  "SET client_encoding = 'SJIS'",
  "SET NAMES 'BIG5'",
  'SET standard_conforming_strings = off',
  "SET backslash_quote = 'on'",
  'SET search_path = evil, public',
  'SET ROLE postgres',
  'SET SESSION AUTHORIZATION postgres',
  'SET default_transaction_read_only = off',
  'RESET ALL',
  "UPDATE pg_settings SET setting = 'none' WHERE name = 'log_statement'",
  'SELECT * FROM pg_file_settings',
  'SELECT * FROM pg_hba_file_rules',
  'SELECT * FROM pg_ident_file_mappings',
  'SELECT * FROM pg_config',
  'SELECT * FROM pg_show_all_file_settings()',
  "SELECT * FROM pg_ls_dir('.')",
  'EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM items',
  "EXPLAIN (ANALYZE 'on') DELETE FROM items",
  'EXPLAIN (ANALYZE 1) UPDATE items SET body = NULL',
  'EXPLAIN ANALYZE DELETE FROM items',
  'MERGE INTO items t USING items s ON t.id = s.id WHEN MATCHED THEN DELETE',
  'WITH m AS (MERGE INTO items t USING items s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id) SELECT * FROM m',
  'WITH d AS (DELETE FROM items RETURNING *) SELECT count(*) FROM d',
  "COPY (SELECT 1) TO PROGRAM 'touch CANARY'",
  "COPY items TO 'CANARY'",
  "COPY items FROM PROGRAM 'touch CANARY'",
  "DO $$ BEGIN PERFORM lo_from_bytea(0, 'x'); END $$",
  'NOTIFY gatehouse',
  'LOCK TABLE items',
  'SELECT * FROM items FOR UPDATE',
  'SELECT * INTO stolen FROM items',
  'CREATE TABLE stolen AS SELECT * FROM items',
  'DECLARE attack_cursor CURSOR WITH HOLD FOR SELECT lo_unlink(9001)',
  "SELECT 1; SELECT lo_from_bytea(0, 'x')",
  'CALL evil_procedure()',
  'TRUNCATE items',
  'VACUUM items',
  "ALTER SYSTEM SET log_statement = 'none'",
  'CHECKPOINT',
  'DISCARD ALL',
];

function corpus(canary: string): string[] {
  const statements: string[] = [];
  for (const payload of PAYLOADS) {
    for (const wrap of WRAPPERS) statements.push(wrap(payload));
  }
  statements.push(...STATEMENTS);
  return statements.map((sql, i) => sql.replaceAll('CANARY', canary).replaceAll('attack_N', `attack_${i}`));
}

/** What must not change, read straight from the backend. */
const FINGERPRINT = `
  select
    (select md5(string_agg(oid::text || ':' || relname || ':' || relkind::text, ',' order by oid)) from pg_class) as relations,
    (select md5(string_agg(oid::text || ':' || proname, ',' order by oid)) from pg_proc) as functions,
    (select count(*) from pg_collation) as collations,
    (select md5(string_agg(rolname || rolsuper::text, ',' order by rolname)) from pg_roles) as roles,
    (select md5(coalesce(string_agg(id || ':' || coalesce(body, ''), ',' order by id), '')) from items) as items,
    (select md5(coalesce(string_agg(loid || ':' || pageno || ':' || encode(data, 'hex'), ',' order by loid, pageno), ''))
       from pg_largeobject) as large_objects,
    (select count(*) from pg_largeobject_metadata) as large_object_count,
    (select md5(coalesce(string_agg(array_to_string(setconfig, ','), ';' order by setdatabase, setrole), ''))
       from pg_db_role_setting) as role_settings,
    (select md5(coalesce(string_agg(name || '=' || coalesce(setting, ''), ',' order by name, seqno), ''))
       from pg_file_settings) as file_settings,
    (select last_value || ':' || is_called from counter) as counter,
    (select count(*) from pg_replication_slots) as slots,
    (select count(*) from pg_prepared_xacts) as prepared_xacts,
    (select count(*) from pg_locks where locktype = 'advisory') as advisory_locks`;

/** The reader's own session settings that must survive the corpus. */
const SESSION_SETTINGS = [
  'log_statement',
  'client_encoding',
  'standard_conforming_strings',
  'backslash_quote',
  'search_path',
  'default_transaction_read_only',
  'role',
];

describe('differential attack corpus through the gateway (issue 25)', () => {
  let gw: PgGateway;
  let reader: string;
  let canaryDir: string;
  let canary: string;
  let statements: string[];

  const fingerprint = async (): Promise<Record<string, unknown>> => {
    const admin = await gw.admin();
    try {
      return (await admin.query(FINGERPRINT)).rows[0];
    } finally {
      await admin.end();
    }
  };
  const canaryExists = async (): Promise<boolean> =>
    stat(canary).then(
      () => true,
      () => false,
    );
  const sessionSettings = async (client: pg.Client): Promise<Record<string, unknown>> => {
    const settings: Record<string, unknown> = {};
    for (const name of SESSION_SETTINGS)
      settings[name] = Object.values((await client.query(`show ${name}`)).rows[0])[0];
    return settings;
  };
  /** Refused by the gateway itself: its SQLSTATE and its rule, never an error the server raised. */
  const refusedByGateway = (sql: string) => (error: pg.DatabaseError) => {
    assert.equal(error.code, '42501', `${sql}: ${error.message}`);
    assert.match(error.message, /^gatehouse: /, sql);
    return true;
  };

  before(async () => {
    gw = await startPgGateway({ policy: POLICY });
    reader = await gw.mint('rag-bot', ['rag-readers']);
    canaryDir = await mkdtemp(join(tmpdir(), 'gatehouse-canary-'));
    // The server may run as another user: it must be able to create the canary, so its absence means something.
    await chmod(canaryDir, 0o777);
    canary = join(canaryDir, 'canary');
    statements = corpus(canary);
    const admin = await gw.admin();
    try {
      await admin.query('create table items (id int primary key, body text)');
      await admin.query("insert into items select g, 'item ' || g from generate_series(1, 5) g");
      await admin.query("select lo_from_bytea(9001, 'orig')");
      await admin.query('create sequence counter');
      await admin.query('create function run_sql(q text) returns void language plpgsql as $$ begin execute q; end $$');
      await admin.query(
        "create function public.evil_write() returns oid language sql as $$ select lo_from_bytea(0, 'x') $$",
      );
      await admin.query('create procedure evil_procedure() language sql as $$ delete from items $$');
      if (gw.backend.serverLog !== undefined) {
        // A throwaway server: every statement its sessions run is logged, with the session's application name.
        await admin.query("alter system set log_line_prefix = '%a|'");
        await admin.query('select pg_reload_conf()');
        await admin.query(`alter database ${gw.backend.database} set log_statement = 'all'`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    } finally {
      await admin.end();
    }
  });
  const connectReader = async (): Promise<pg.Client> => {
    const client = new pg.Client({ ...gw.clientConfig(reader), application_name: APPLICATION });
    await client.connect();
    return client;
  };
  after(async () => {
    await gw.stop();
    await rm(canaryDir, { recursive: true, force: true });
  });

  test('the corpus is large, and its canary can be made', async () => {
    assert.ok(statements.length >= 300, `${statements.length} statements`);
    // Able to fail: the superuser login can run the program that makes the canary. The program reads its input, so
    // the server's write of the row cannot meet a pipe already closed (EPIPE, an error on a busy machine).
    const admin = await gw.admin();
    try {
      await admin.query(`copy (select 1) to program 'touch ${canary}; cat > /dev/null'`);
    } finally {
      await admin.end();
    }
    assert.equal(await canaryExists(), true);
    await rm(canary);
  });

  test('simple protocol, one statement per message: every one refused by the gateway, nothing changed', async () => {
    const before = await fingerprint();
    const client = await connectReader();
    try {
      const settings = await sessionSettings(client);
      for (const sql of statements) await assert.rejects(client.query(sql), refusedByGateway(sql));
      assert.deepEqual(await sessionSettings(client), settings);
    } finally {
      await client.end();
    }
    assert.deepEqual(await fingerprint(), before);
    assert.equal(await canaryExists(), false);
  });

  test('simple protocol, batched ten to a message behind a harmless read: every batch refused', async () => {
    const before = await fingerprint();
    const client = await connectReader();
    try {
      for (let i = 0; i < statements.length; i += 10) {
        const batch = ['SELECT 1', ...statements.slice(i, i + 10)].join(';\n');
        await assert.rejects(client.query(batch), refusedByGateway(batch));
      }
    } finally {
      await client.end();
    }
    assert.deepEqual(await fingerprint(), before);
    assert.equal(await canaryExists(), false);
  });

  test('extended protocol (Parse, Bind, Execute), one statement at a time: every one refused', async () => {
    const before = await fingerprint();
    const client = await connectReader();
    try {
      const settings = await sessionSettings(client);
      // Several statements in one Parse are the server's error, not a refusal: those go by the simple protocol only.
      for (const sql of statements.filter((s) => !s.includes('; '))) {
        await assert.rejects(client.query({ text: sql, values: [] }), refusedByGateway(sql));
      }
      assert.deepEqual(await sessionSettings(client), settings);
    } finally {
      await client.end();
    }
    assert.deepEqual(await fingerprint(), before);
    assert.equal(await canaryExists(), false);
  });

  test('every refusal is in the audit log, as denied, with a kind other than read or session', async () => {
    const events = await gw.events();
    const denied = new Map<string, string>();
    for (const event of events) {
      if (event.type !== 'operation') continue;
      const text = String(event.payload['text']);
      if (event.payload['verdict'] === 'deny') denied.set(text, String(event.payload['kind']));
    }
    for (const sql of statements) {
      const kind = denied.get(sql);
      assert.ok(kind !== undefined, `not recorded as denied: ${sql}`);
      assert.ok(kind !== 'read' && kind !== 'session', `${sql}: recorded as ${kind}`);
    }
  });

  test('the backend ran none of it: what the reader sessions ran there is in the audit log as a read or session', async (t) => {
    const log = gw.backend.serverLog?.();
    if (log === undefined) {
      t.skip('needs the embedded server, whose log the test reads');
      return;
    }
    const pattern = new RegExp(`^${APPLICATION}\\|.*?LOG:\\s+(?:statement|execute [^:]*): (.*)$`);
    const ran = log.map((line) => pattern.exec(line)?.[1]).filter((text): text is string => text !== undefined);
    assert.ok(ran.length > 0, 'the reader sessions ran their SHOW statements: the log is read');
    const corpusTexts = new Set(statements);
    const allowed = new Map<string, string>();
    for (const event of await gw.events()) {
      if (event.type === 'operation' && event.payload['verdict'] === 'allow')
        allowed.set(String(event.payload['text']), String(event.payload['kind']));
    }
    for (const text of ran) {
      assert.ok(!corpusTexts.has(text), `reached the backend: ${text}`);
      const kind = allowed.get(text);
      assert.ok(kind === 'read' || kind === 'session', `${text}: audited as ${kind ?? 'nothing'}`);
    }
  });
});
