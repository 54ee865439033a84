/**
 * Issue 25, findings 2 to 5: what a caller allowed only to read (or to write, but not to delete everything) tried
 * through the gateway against a real PostgreSQL whose backend login is a superuser. Each attack is sent through the
 * gateway and must be refused by the gateway itself (42501 and its rule; PostgreSQL 18 refuses some of these in the
 * reader's read-only backend session too, with 25006, PostgreSQL 15 did not); then the backend is checked directly
 * that nothing happened. Each check is shown able to fail: the same statement run straight at the backend does leave
 * the trace the check looks for (and is undone).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

const POLICY = `
      - groups: [rag-readers]
        allow: [read]
      - groups: [indexers]
        allow: [read, write]
        deny: [delete-without-where, update-without-where]
      - groups: [admins]
        allow: [read, write, ddl, admin]`;

/** Indented for the `app` resource, after its policy. */
const RESOURCE_YAML = `
    readFunctions: ["public.tenant_*"]`;

/** A large object the attacks try to change or remove, and ids they try to create. */
const EXISTING_LO = 9001;

describe('attacks on the SQL classifier through the gateway (issue 25)', () => {
  let gw: PgGateway;
  let reader: string;
  let indexer: string;
  let adminToken: string;

  const backend = async <T>(use: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = await gw.admin();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  };
  const backendValue = async (sql: string, values?: unknown[]): Promise<unknown> =>
    backend(async (c) => Object.values((await c.query(sql, values)).rows[0] ?? {})[0]);
  const largeObjectExists = async (oid: number): Promise<boolean> =>
    (await backendValue('select count(*)::int from pg_largeobject_metadata where oid = $1', [oid])) === 1;
  const itemCount = async (): Promise<number> => (await backendValue('select count(*)::int from items')) as number;

  /** Runs `sql` straight at the backend as its superuser, then `check` while the session is open. */
  const directly = async (sql: string, check: () => Promise<void>): Promise<void> =>
    backend(async (c) => {
      await c.query(sql);
      await check();
    });

  /** Runs `sql` straight at the backend in a transaction that is rolled back after `check`. */
  const directlyRolledBack = async (sql: string, check: (c: pg.Client) => Promise<void>): Promise<void> =>
    backend(async (c) => {
      await c.query('begin');
      try {
        await c.query(sql);
        await check(c);
      } finally {
        await c.query('rollback');
      }
    });

  const connect = async (token: string): Promise<pg.Client> => {
    const client = new pg.Client(gw.clientConfig(token));
    await client.connect();
    return client;
  };

  /** Sends each statement through the gateway as `token`, asserting each is refused by policy (42501). */
  const refused = async (token: string, statements: readonly string[]): Promise<void> => {
    const client = await connect(token);
    try {
      for (const sql of statements) {
        await assert.rejects(client.query(sql), (error: pg.DatabaseError) => {
          assert.equal(error.code, '42501', `${sql}: ${error.message}`);
          return true;
        });
      }
    } finally {
      await client.end();
    }
  };

  before(async () => {
    gw = await startPgGateway({ policy: POLICY, resourceYaml: RESOURCE_YAML });
    reader = await gw.mint('rag-bot', ['rag-readers']);
    indexer = await gw.mint('index-bot', ['indexers']);
    adminToken = await gw.mint('dba', ['admins']);
    await backend(async (c) => {
      await c.query('create table items (id int primary key, body text)');
      await c.query("insert into items select g, 'item ' || g from generate_series(1, 10) g");
      await c.query(`select lo_from_bytea(${EXISTING_LO}, 'orig')`);
      await c.query('create sequence counter');
      await c.query('create function run_sql(q text) returns void language plpgsql as $$ begin execute q; end $$');
      await c.query(
        'create function public.tenant_score(x int) returns int language sql immutable as $$ select x * 2 $$',
      );
      await c.query(
        "create function public.evil_write() returns oid language sql as $$ select lo_from_bytea(777005, 'x') $$",
      );
      // Every new session logs every statement: what `SET log_statement = 'none'` would switch off.
      await c.query(`alter database ${gw.backend.database} set log_statement = 'all'`);
    });
  });
  after(() => gw.stop());

  test('functions that run SQL text (ts_rewrite, ts_stat, query_to_xml, a user function) are not reads', async () => {
    const attacks: readonly [number, string][] = [
      [777001, "select ts_rewrite('a'::tsquery, 'select lo_from_bytea(777001, ''x'')::text::tsquery, ''b''::tsquery')"],
      [777002, "select query_to_xml('select lo_from_bytea(777002, ''x'')', true, true, '')"],
      [777003, "select run_sql('select lo_from_bytea(777003, ''x'')')"],
      [777004, "select * from ts_stat('select to_tsvector(lo_from_bytea(777004, ''x'')::text)')"],
    ];
    await refused(
      reader,
      attacks.map(([, sql]) => sql),
    );
    // Writers too: SQL text is dynamic-sql, denied unless a rule names it.
    await refused(indexer, [attacks[0]?.[1] as string, attacks[1]?.[1] as string]);
    for (const [oid, sql] of attacks) {
      assert.equal(await largeObjectExists(oid), false, `nothing ran: ${sql}`);
      await directly(sql, async () => assert.equal(await largeObjectExists(oid), true, `able to fail: ${sql}`));
      await backendValue('select lo_unlink($1)', [oid]);
    }
  });

  test('large-object writes through functions are not reads', async () => {
    await refused(reader, [
      `select lo_put(${EXISTING_LO}, 0, 'evil')`,
      `select lo_unlink(${EXISTING_LO})`,
      // Column notation: (x).f is f(x), with no function call in the parse tree.
      `select (${EXISTING_LO}::oid).lo_unlink`,
      'select lo_create(777010)',
      'select lo_creat(-1)',
      "select lo_from_bytea(777011, 'x')",
      "select lo_import('/etc/hostname')",
      `select lo_export(${EXISTING_LO}, '/tmp/gatehouse-lo-export')`,
    ]);
    assert.equal(await backendValue(`select convert_from(lo_get(${EXISTING_LO}), 'UTF8')`), 'orig');
    assert.equal(await backendValue('select count(*)::int from pg_largeobject_metadata'), 1, 'no new large object');
    await directly(`select lo_put(${EXISTING_LO}, 0, 'evil')`, async () =>
      assert.equal(await backendValue(`select convert_from(lo_get(${EXISTING_LO}), 'UTF8')`), 'evil'),
    );
    await backendValue(`select lo_put(${EXISTING_LO}, 0, 'orig')`);
    await directly('select lo_create(777010)', async () => assert.equal(await largeObjectExists(777010), true));
    await backendValue('select lo_unlink(777010)');
    await directly(`select (${EXISTING_LO}::oid).lo_unlink`, async () =>
      assert.equal(await largeObjectExists(EXISTING_LO), false, 'able to fail: column notation unlinks'),
    );
    await backendValue(`select lo_from_bytea(${EXISTING_LO}, 'orig')`);
  });

  test('pg_import_system_collations, sequences and transaction ids are not reads', async (t) => {
    const collations = async () => (await backendValue('select count(*)::int from pg_collation')) as number;
    const before = await collations();
    const sequence = async () => backendValue("select last_value || '/' || is_called from counter");
    const counterBefore = await sequence();
    await refused(reader, [
      "select pg_import_system_collations('pg_catalog')",
      "select nextval('counter')",
      "select setval('counter', 100)",
      'select txid_current()',
      'select pg_current_xact_id()',
    ]);
    assert.equal(await collations(), before);
    assert.equal(await sequence(), counterBefore);
    await directly("select nextval('counter')", async () => assert.notEqual(await sequence(), counterBefore));
    await backendValue("select setval('counter', 1, false)");
    const created = await backend(async (c) => {
      await c.query('begin');
      try {
        return (await c.query("select pg_import_system_collations('pg_catalog') as n")).rows[0].n as number;
      } finally {
        await c.query('rollback');
      }
    });
    if (created === 0) t.diagnostic('this machine has no operating-system locales to import: the count cannot grow');
  });

  test('pg_notify and advisory locks are not reads', async () => {
    const listener = await gw.admin();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(String(n.payload)));
    await listener.query('listen gatehouse_events');
    const holder = await connect(reader);
    try {
      for (const sql of [
        "select pg_notify('gatehouse_events', 'from the reader')",
        'select pg_advisory_lock(4242)',
        'select pg_try_advisory_lock(4242)',
        'select pg_advisory_xact_lock_shared(4242)',
      ]) {
        await assert.rejects(holder.query(sql), { code: '42501' });
      }
      const locks = async () =>
        backendValue("select count(*)::int from pg_locks where locktype = 'advisory' and objid = 4242");
      assert.equal(await locks(), 0, 'no lock held by the open reader session');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(heard, []);
      await directly("select pg_notify('gatehouse_events', 'direct'), pg_advisory_lock(4242)", async () =>
        assert.equal(await locks(), 1),
      );
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(heard, ['direct'], 'able to fail: a notification is heard');
    } finally {
      await holder.end();
      await listener.end();
    }
  });

  test('views that read server files are file-access, denied unless named', async () => {
    await refused(reader, [
      'select * from pg_file_settings',
      'select * from pg_catalog.pg_hba_file_rules',
      'select * from pg_ident_file_mappings',
      'select * from pg_config',
      'select * from pg_show_all_file_settings()',
      "select pg_read_file('PG_VERSION')",
      "select ('PG_VERSION'::text).pg_read_file",
    ]);
    await refused(adminToken, ['select * from pg_hba_file_rules', "select pg_read_file('PG_VERSION')"]);
  });

  test('a reader may not SET log_statement (nor by set_config or pg_settings); harmless settings are fine', async () => {
    const client = await connect(reader);
    try {
      const show = async (name: string) => Object.values((await client.query(`show ${name}`)).rows[0])[0];
      assert.equal(await show('log_statement'), 'all');
      for (const sql of [
        "set log_statement = 'none'",
        "set local log_statement = 'none'",
        "select set_config('log_statement', 'none', false)",
        "update pg_settings set setting = 'none' where name = 'log_statement'",
        'set search_path = pg_temp, public',
        "set session_preload_libraries = 'x'",
      ]) {
        await assert.rejects(client.query(sql), { code: '42501' }, sql);
      }
      assert.equal(await show('log_statement'), 'all', 'still logging everything');
      await client.query("set statement_timeout = '5s'");
      await client.query("set application_name = 'rag'");
      await client.query("select set_config('work_mem', '8MB', false)");
      await client.query('set enable_seqscan = off');
      await client.query('reset statement_timeout');
      await client.query('reset log_statement');
      assert.equal(await show('log_statement'), 'all');
    } finally {
      await client.end();
    }
    // Able to fail: with the superuser login the backend takes it.
    await backend(async (c) => {
      await c.query("set log_statement = 'none'");
      assert.equal((await c.query('show log_statement')).rows[0].log_statement, 'none');
    });
  });

  test('client_encoding may only be UTF8, in any spelling; standard_conforming_strings only on: even for admins', async () => {
    for (const token of [reader, adminToken]) {
      const client = await connect(token);
      try {
        for (const sql of [
          "set client_encoding = 'SJIS'",
          "set names 'sjis'",
          "set client_encoding to 'BIG5'",
          "select set_config('client_encoding', 'GBK', false)",
          'set standard_conforming_strings = off',
          "set backslash_quote = 'on'",
        ]) {
          await assert.rejects(client.query(sql), { code: '42501' }, sql);
        }
        for (const sql of ["set client_encoding = 'utf-8'", "set names 'unicode'", "set client_encoding = 'UTF8'"]) {
          await client.query(sql);
        }
        assert.equal((await client.query('show client_encoding')).rows[0].client_encoding, 'UTF8');
        assert.equal(
          (await client.query('show standard_conforming_strings')).rows[0].standard_conforming_strings,
          'on',
        );
      } finally {
        await client.end();
      }
    }
  });

  test('EXPLAIN options are read as the server reads them: the last ANALYZE wins', async () => {
    await refused(indexer, [
      'explain (analyze false, analyze true) delete from items',
      "explain (analyze 'on') delete from items",
      'explain (analyze 1) delete from items',
      'explain analyze delete from items',
      'explain (costs off, analyse) delete from items',
    ]);
    await refused(reader, ['explain (analyze false, analyze true) delete from items where id = 1']);
    assert.equal(await itemCount(), 10);
    const client = await connect(reader);
    try {
      // Only planned: the server reads the last value, false, as well.
      await client.query('explain (analyze true, analyze false) delete from items');
      await client.query('explain (analyze true) select * from items');
    } finally {
      await client.end();
    }
    assert.equal(await itemCount(), 10);
    await directlyRolledBack('explain (analyze false, analyze true) delete from items', async (c) =>
      assert.equal((await c.query('select count(*)::int as n from items')).rows[0].n, 0, 'able to fail'),
    );
  });

  test('EXPLAIN ANALYZE of EXECUTE runs the prepared statement: a DELETE prepared by Parse is still a DELETE', async () => {
    const client = await connect(indexer);
    try {
      // The protocol-level Parse is kept (its Execute is refused): `d` now names a DELETE on the backend.
      await assert.rejects(client.query({ name: 'd', text: 'delete from items', values: [] }), { code: '42501' });
      for (const sql of ['explain (analyze false, analyze true) execute d', "explain (analyze 'on') execute d"]) {
        await assert.rejects(client.query(sql), { code: '42501' }, sql);
      }
      // Only planned, as the server reads it.
      await client.query('explain (analyze true, analyze false) execute d');
    } finally {
      await client.end();
    }
    assert.equal(await itemCount(), 10);
  });

  test('MERGE ... THEN DELETE, alone or in a WITH, is reviewed as a DELETE without WHERE would be', async () => {
    const merges = [
      'merge into items t using items s on t.id = s.id when matched then delete',
      'with m as (merge into items t using items s on t.id = s.id when matched then delete returning t.id) select count(*) from m',
      "merge into items t using items s on t.id = s.id when matched then update set body = 'x'",
    ];
    await refused(indexer, merges);
    await refused(reader, merges);
    assert.equal(await itemCount(), 10);
    assert.equal(await backendValue("select count(*)::int from items where body = 'x'"), 0);
    // MERGE ... RETURNING (so MERGE in WITH) is PostgreSQL 17's; the gateway refuses it on any version.
    const withMerge = Number(await backendValue("select current_setting('server_version_num')::int")) >= 170000;
    await directlyRolledBack((withMerge ? merges[1] : merges[0]) as string, async (c) =>
      assert.equal((await c.query('select count(*)::int as n from items')).rows[0].n, 0, 'able to fail'),
    );
    // A bounded write still runs for the writer.
    const client = await connect(indexer);
    try {
      await client.query("insert into items values (11, 'item 11')");
      await client.query('delete from items where id = 11');
    } finally {
      await client.end();
    }
  });

  test('safe built-ins and the functions readFunctions names are reads; other user functions are not', async () => {
    const client = await connect(reader);
    try {
      const { rows } = await client.query(
        `select lower('A') as l, now() is not null as n, count(*)::int as c, random() < 1 as r,
                (select jsonb_path_query('{"a": 1}', '$.a')::text) as j, public.tenant_score(21) as s
           from items`,
      );
      assert.deepEqual(rows, [{ l: 'a', n: true, c: 10, r: true, j: '1', s: 42 }]);
      // Listed as `public.tenant_*`: an unqualified call resolves through search_path, and is not listed.
      await assert.rejects(client.query('select tenant_score(1)'), { code: '42501' });
      await assert.rejects(client.query('select public.evil_write()'), { code: '42501' });
    } finally {
      await client.end();
    }
    assert.equal(await largeObjectExists(777005), false);
  });

  test('what was refused is in the audit log with the kind and tags that refused it', async () => {
    const events = await gw.events();
    const operation = (text: string) =>
      events.find((e) => e.type === 'operation' && (e.payload as { text?: string }).text === text)?.payload as
        | { kind: string; tags: string[]; verdict?: string }
        | undefined;
    const tsRewrite = operation(
      "select ts_rewrite('a'::tsquery, 'select lo_from_bytea(777001, ''x'')::text::tsquery, ''b''::tsquery')",
    );
    assert.equal(tsRewrite?.kind, 'admin');
    assert.deepEqual(tsRewrite?.tags, ['dynamic-sql']);
    const explain = operation('explain (analyze false, analyze true) delete from items');
    assert.equal(explain?.kind, 'write');
    assert.deepEqual(explain?.tags, ['delete-without-where']);
  });
});
