/**
 * The classifier's allow-lists (issue 25): functions, settings, EXPLAIN options and MERGE, table-driven, each row
 * also decided by a policy where `readers` may only read, `writers` may write but not delete or update without
 * WHERE, and `dbas` may do anything a kind allows (dangerous tags still need naming).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import type { Verdict } from '../../../src/core/decision.js';
import type { OperationKind, RiskTag } from '../../../src/core/operation.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { BUILTIN_FUNCTIONS_BY_VOLATILITY } from '../../../src/protocols/postgres/sql/builtin-functions.js';
import {
  type ClassifiedStatement,
  classifySql,
  loadSqlClassifier,
  toOperation,
} from '../../../src/protocols/postgres/sql/classify.js';
import {
  builtinVolatility,
  VOLATILE_READ_PREFIXES,
  VOLATILE_READS,
} from '../../../src/protocols/postgres/sql/function-safety.js';
import { ReadFunctions } from '../../../src/protocols/postgres/sql/read-functions.js';

const CONFIG = `
identity:
  devIssuer: { enabled: true }
resources:
  - name: db
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    readFunctions: [analytics.score, "tenant_*"]
    policy:
      - groups: [readers]
        allow: [read]
      - groups: [writers]
        allow: [read, write]
        deny: [delete-without-where, update-without-where]
      - groups: [dbas]
        allow: [read, write, ddl, admin]
`;
const resources = parseConfig(CONFIG, '/t/gatehouse.yaml', {}).config.resources;
const engine = new PolicyEngine(resources);
const readFunctions = new ReadFunctions(['analytics.score', 'tenant_*']);

function operationOf(sql: string, statements?: ClassifiedStatement[]) {
  return toOperation('db', statements ?? classifySql(sql, { readFunctions }), sql);
}
function decide(sql: string, group: string): Verdict {
  return engine.decide(operationOf(sql), { identity: { groups: [group] } }).verdict;
}

before(loadSqlClassifier);

/** Reads a `readers` group may run: built-ins that are immutable or stable, reviewed volatile reads, listed functions. */
const SAFE_READS: readonly string[] = [
  "SELECT lower(name), upper('x'), length(body) FROM t",
  'SELECT now(), current_date, count(*), sum(x), avg(x), max(x) FROM t',
  `SELECT jsonb_path_query(doc, '$.a'), jsonb_build_object('a', 1), doc->>'a' FROM t`,
  "SELECT id FROM items ORDER BY embedding <-> '[1,2,3]' LIMIT 5",
  "SELECT id, embedding <=> '[1,2,3]' AS d, embedding <#> '[1,2,3]' FROM items",
  "SELECT date_trunc('day', ts), extract(year FROM ts), to_char(ts, 'YYYY') FROM t",
  "SELECT substring(s FROM 2 FOR 3), trim(both 'x' FROM s), position('a' IN s), overlay(s placing 'b' from 1) FROM t",
  "SELECT string_agg(s, ','), array_agg(x ORDER BY x) FILTER (WHERE x > 0) FROM t",
  'SELECT row_number() OVER (PARTITION BY a ORDER BY b), rank() OVER w FROM t WINDOW w AS (ORDER BY b)',
  'SELECT * FROM generate_series(1, 10) g, unnest(ARRAY[1, 2]) u',
  "SELECT coalesce(a, b), greatest(a, b), nullif(a, 0), a::text, CAST(b AS int), 'x' || 'y' FROM t",
  "SELECT pg_catalog.lower('A'), current_setting('search_path'), version(), has_table_privilege('t', 'select')",
  "SELECT random(), gen_random_uuid(), clock_timestamp(), pg_total_relation_size('t'), pg_sleep(0)",
  "SELECT ts AT TIME ZONE 'UTC', to_tsvector('english', body) @@ to_tsquery('cat') FROM t",
  'WITH x AS (SELECT lower(a) FROM t) SELECT * FROM x WHERE EXISTS (SELECT 1 FROM u WHERE u.a = x.lower)',
  'SELECT t.id, t.name, (t.address).city FROM t',
  'SELECT analytics.score(x), tenant_rank(x) FROM t',
  "EXPLAIN SELECT nextval('s')",
  'EXPLAIN (ANALYZE true, ANALYZE false) DELETE FROM t',
  "SELECT set_config('statement_timeout', '5s', false)",
];

/** sql, kind, tags: none of these is a read. */
type Unsafe = readonly [string, OperationKind, readonly RiskTag[]];
const UNSAFE: readonly Unsafe[] = [
  // Functions that run SQL text.
  ["SELECT ts_rewrite('a'::tsquery, 'SELECT 1')", 'admin', ['dynamic-sql']],
  ["SELECT * FROM ts_stat('SELECT v FROM t')", 'admin', ['dynamic-sql']],
  ["SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", 'admin', ['dynamic-sql']],
  ["SELECT cursor_to_xml('c', 1, true, true, '')", 'admin', ['dynamic-sql']],
  ["SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", 'admin', ['remote-access']],
  ["SELECT dblink_exec('DROP TABLE t')", 'admin', ['remote-access']],
  // Any function not known safe: unknown (user, extension) or volatile built-ins; the class, not names.
  ["SELECT run_sql('DELETE FROM t')", 'write', ['unknown-function']],
  ['SELECT public.lower(name) FROM t', 'write', ['unknown-function']],
  ['SELECT "LOWER"(name) FROM t', 'write', ['unknown-function']],
  ['SELECT analytics.other(x) FROM t', 'write', ['unknown-function']],
  ['SELECT public.tenant_rank(x) FROM t', 'write', ['unknown-function']],
  ["SELECT nextval('s')", 'write', ['volatile-function']],
  ["SELECT setval('s', 100)", 'write', ['volatile-function']],
  ['SELECT txid_current()', 'write', ['volatile-function']],
  ['SELECT pg_current_xact_id()', 'write', ['volatile-function']],
  // Wherever the call hides.
  ['SELECT * FROM t WHERE a IN (SELECT f(b) FROM u)', 'write', ['unknown-function']],
  ['WITH x AS (SELECT f(1)) SELECT * FROM x', 'write', ['unknown-function']],
  ['SELECT * FROM t, LATERAL f(t.a) g', 'write', ['unknown-function']],
  ['SELECT * FROM ROWS FROM (f(1), generate_series(1, 2))', 'write', ['unknown-function']],
  ['VALUES (f(1))', 'write', ['unknown-function']],
  ['PREPARE p AS SELECT lo_unlink(1)', 'write', ['large-object-write']],
  ['DECLARE c CURSOR FOR SELECT f(1)', 'write', ['unknown-function']],
  ['COPY (SELECT f(1)) TO STDOUT', 'write', ['unknown-function']],
  ['EXPLAIN ANALYZE SELECT f(1)', 'write', ['unknown-function']],
  // Plain EXPLAIN still plans: a function declared immutable (falsely) is folded then.
  ['EXPLAIN SELECT f(1)', 'write', ['unknown-function']],
  // Column notation: (x).f is f(x).
  ["SELECT ('PG_VERSION'::text).pg_read_file", 'admin', ['file-access']],
  ['SELECT (9001::oid).lo_unlink', 'write', ['large-object-write']],
  // Writes through functions a read-only session allowed (PostgreSQL 15).
  ["SELECT lo_put(9001, 0, 'x')", 'write', ['large-object-write']],
  ['SELECT lo_unlink(9001)', 'write', ['large-object-write']],
  ['SELECT lo_create(0)', 'write', ['large-object-write']],
  ["SELECT lo_from_bytea(0, 'x')", 'write', ['large-object-write']],
  ["SELECT lo_import('/etc/passwd')", 'admin', ['file-access']],
  ["SELECT pg_notify('c', 'x')", 'write', ['notify']],
  ['SELECT pg_advisory_lock(1), pg_try_advisory_xact_lock(2)', 'write', ['advisory-lock']],
  ["SELECT pg_logical_emit_message(true, 'p', 'x')", 'admin', ['superuser-function']],
  ["SELECT pg_import_system_collations('pg_catalog')", 'admin', ['superuser-function']],
  // Views and functions that read the server's files.
  ['SELECT * FROM pg_file_settings', 'admin', ['file-access']],
  ['SELECT * FROM pg_catalog.pg_hba_file_rules', 'admin', ['file-access']],
  ['SELECT * FROM pg_ident_file_mappings', 'admin', ['file-access']],
  ['SELECT * FROM pg_config', 'admin', ['file-access']],
  ['SELECT name FROM pg_available_extensions', 'admin', ['file-access']],
  ['SELECT * FROM pg_show_all_file_settings()', 'admin', ['file-access']],
  ['SELECT pg_current_logfile()', 'admin', ['file-access']],
  // Settings.
  ["UPDATE pg_settings SET setting = 'none' WHERE name = 'log_statement'", 'admin', []],
];

describe('functions by allow-list', () => {
  for (const sql of SAFE_READS) {
    test(`read: ${sql}`, () => {
      const operation = operationOf(sql);
      assert.deepEqual({ kind: operation.kind, tags: operation.tags }, { kind: 'read', tags: [] });
      assert.equal(decide(sql, 'readers'), 'allow');
    });
  }
  for (const [sql, kind, tags] of UNSAFE) {
    test(`not a read: ${sql}`, () => {
      const operation = operationOf(sql);
      assert.deepEqual({ kind: operation.kind, tags: operation.tags }, { kind, tags });
      assert.equal(decide(sql, 'readers'), 'deny');
    });
  }

  test('dangerous classes are denied to writers and admins too unless a rule names them', () => {
    for (const sql of ["SELECT ts_rewrite('a'::tsquery, 'SELECT 1')", 'SELECT * FROM pg_file_settings']) {
      assert.equal(decide(sql, 'writers'), 'deny', sql);
      assert.equal(decide(sql, 'dbas'), 'deny', sql);
    }
    assert.equal(decide("SELECT nextval('s')", 'writers'), 'allow');
  });

  test('every volatile built-in is not a read, unless it was reviewed as one', () => {
    let checked = 0;
    for (const line of BUILTIN_FUNCTIONS_BY_VOLATILITY.volatile) {
      for (const name of line.split(' ')) {
        const sql = `SELECT pg_catalog.${name}()`;
        const reviewed = VOLATILE_READS.has(name) || VOLATILE_READ_PREFIXES.some((p) => name.startsWith(p));
        const kind = operationOf(sql).kind;
        if (name === 'set_config') continue; // decided by its setting
        assert.equal(kind === 'read', reviewed, `${name}: ${kind}`);
        checked++;
      }
    }
    assert.ok(checked > 150, `${checked} volatile built-ins`);
  });

  test('the generated table comes from a real catalog: volatilities of well-known built-ins', () => {
    assert.equal(builtinVolatility('lower'), 'immutable');
    assert.equal(builtinVolatility('now'), 'stable');
    assert.equal(builtinVolatility('nextval'), 'volatile');
    // One volatile overload (the one taking SQL text) makes the name volatile.
    assert.equal(builtinVolatility('ts_rewrite'), 'volatile');
    assert.equal(builtinVolatility('no_such_function'), undefined);
  });

  test('readFunctions: names as written, qualified with qualified, unqualified with unqualified', () => {
    const list = new ReadFunctions(['analytics.score', 'tenant_*', 'reports.*']);
    assert.equal(list.allows('analytics', 'score'), true);
    assert.equal(list.allows(undefined, 'score'), false);
    assert.equal(list.allows('analytics', 'scores'), false);
    assert.equal(list.allows(undefined, 'tenant_rank'), true);
    assert.equal(list.allows('public', 'tenant_rank'), false);
    assert.equal(list.allows('reports', 'anything'), true);
    assert.throws(() => new ReadFunctions(['a.b.c']), /not a function name pattern/);
    assert.throws(() => parseConfig(CONFIG.replace('"tenant_*"', '"x; drop"'), '/t/g.yaml', {}), /readFunctions/);
  });

  test('the same text under another resource list, or another session, is classified again', () => {
    const sql = 'SELECT analytics.score(1)';
    assert.equal(classifySql(sql, { readFunctions })[0]?.kind, 'read');
    assert.equal(classifySql(sql)[0]?.kind, 'write');
    assert.equal(classifySql(sql, { readFunctions: new ReadFunctions(['other.*']) })[0]?.kind, 'write');
    assert.equal(classifySql(sql, { readFunctions })[0]?.kind, 'read');
  });
});

/** sql, kind, tags, verdict for readers. */
type SettingRow = readonly [string, OperationKind, readonly RiskTag[], Verdict];
const SETTINGS: readonly SettingRow[] = [
  ["SET application_name = 'rag'", 'session', [], 'allow'],
  ["SET statement_timeout = '5s'", 'session', [], 'allow'],
  ["SET TIME ZONE 'UTC'", 'session', [], 'allow'],
  ['SET extra_float_digits = 3', 'session', [], 'allow'],
  ['SET enable_seqscan = off', 'session', [], 'allow'],
  ['SET random_page_cost = 1.1', 'session', [], 'allow'],
  ["SET work_mem = '64MB'", 'session', [], 'allow'],
  ['SET jit = off', 'session', [], 'allow'],
  ['SET hnsw.ef_search = 100', 'session', [], 'allow'],
  ['SET LOCAL ivfflat.probes = 10', 'session', [], 'allow'],
  // Custom parameters may be what a row-level security policy trusts.
  ["SET app.tenant_id = 'acme'", 'admin', [], 'deny'],
  ['RESET log_statement', 'session', [], 'allow'],
  ['SET log_statement TO DEFAULT', 'session', [], 'allow'],
  ["SET log_statement = 'none'", 'admin', [], 'deny'],
  ['SET LOCAL log_min_duration_statement = -1', 'admin', [], 'deny'],
  ["SELECT set_config('log_statement', 'none', true)", 'admin', [], 'deny'],
  ['SET search_path = evil, public', 'admin', [], 'deny'],
  ["SET SCHEMA 'evil'", 'admin', [], 'deny'],
  ["SET session_preload_libraries = 'x'", 'admin', [], 'deny'],
  // client_encoding: UTF8 in any spelling PostgreSQL accepts, nothing else.
  ["SET client_encoding = 'UTF8'", 'session', [], 'allow'],
  ["SET client_encoding = 'utf-8'", 'session', [], 'allow'],
  ['SET client_encoding = unicode', 'session', [], 'allow'],
  ["SET NAMES 'Utf_8'", 'session', [], 'allow'],
  ["SELECT set_config('client_encoding', 'UTF8', false)", 'read', [], 'allow'],
  ["SET client_encoding = 'SJIS'", 'admin', ['parser-setting'], 'deny'],
  ["SET NAMES 'GBK'", 'admin', ['parser-setting'], 'deny'],
  ["SELECT set_config('client_encoding', 'BIG5', false)", 'admin', ['parser-setting'], 'deny'],
  ["SELECT set_config('client_encoding', e, false) FROM t", 'admin', ['parser-setting'], 'deny'],
  ['SET standard_conforming_strings = on', 'session', [], 'allow'],
  ['SET standard_conforming_strings = off', 'admin', ['parser-setting'], 'deny'],
  ["SET standard_conforming_strings = 'f'", 'admin', ['parser-setting'], 'deny'],
  ['SET backslash_quote = safe_encoding', 'session', [], 'allow'],
  ['SET backslash_quote = on', 'admin', ['parser-setting'], 'deny'],
  // Unchanged: read-only and role settings.
  ['SET default_transaction_read_only = off', 'write', [], 'deny'],
  ['SET default_transaction_read_only = on', 'session', [], 'allow'],
  ['SET ROLE postgres', 'admin', ['role-change'], 'deny'],
  ['RESET ALL', 'write', [], 'deny'],
];

describe('settings by allow-list', () => {
  for (const [sql, kind, tags, readers] of SETTINGS) {
    test(sql, () => {
      const operation = operationOf(sql);
      assert.deepEqual({ kind: operation.kind, tags: operation.tags }, { kind, tags });
      assert.equal(decide(sql, 'readers'), readers);
    });
  }

  test('a parser setting is denied even to a group allowed admin', () => {
    assert.equal(decide("SET client_encoding = 'SJIS'", 'dbas'), 'deny');
    assert.equal(decide("SET log_statement = 'none'", 'dbas'), 'allow');
  });
});

/** sql, kind, tags: EXPLAIN as the server reads its options (the last ANALYZE wins). */
const EXPLAINS: readonly Unsafe[] = [
  ['EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM t', 'write', ['delete-without-where']],
  ['EXPLAIN (ANALYZE true, ANALYZE false) DELETE FROM t', 'read', []],
  ["EXPLAIN (ANALYZE 'on') DELETE FROM t", 'write', ['delete-without-where']],
  ["EXPLAIN (ANALYZE 'TRUE') DELETE FROM t", 'write', ['delete-without-where']],
  ['EXPLAIN (ANALYZE 1) DELETE FROM t', 'write', ['delete-without-where']],
  ['EXPLAIN (ANALYZE 0) DELETE FROM t', 'read', []],
  ["EXPLAIN (ANALYZE 'off') DELETE FROM t", 'read', []],
  // The server refuses these values; taken as true, so a mistake cannot hide a run.
  ["EXPLAIN (ANALYZE 'yes') DELETE FROM t", 'write', ['delete-without-where']],
  ['EXPLAIN (ANALYZE 2) DELETE FROM t', 'write', ['delete-without-where']],
  ['EXPLAIN ANALYZE DELETE FROM t', 'write', ['delete-without-where']],
  ['EXPLAIN ANALYSE VERBOSE UPDATE t SET a = 1', 'write', ['update-without-where']],
  ['EXPLAIN (COSTS OFF, ANALYSE) DELETE FROM t WHERE a = 1', 'write', []],
  ['EXPLAIN DELETE FROM t', 'read', []],
];

describe('EXPLAIN options', () => {
  for (const [sql, kind, tags] of EXPLAINS) {
    test(sql, () => {
      const operation = operationOf(sql);
      assert.deepEqual({ kind: operation.kind, tags: operation.tags }, { kind, tags });
    });
  }

  test('EXPLAIN ANALYZE EXECUTE has the prepared statement kind and tags, and is never reused for another session', () => {
    const prepared = (text: string) => classifySql(text)[0] as ClassifiedStatement;
    const sql = 'EXPLAIN (ANALYZE false, ANALYZE true) EXECUTE d';
    const asDelete = classifySql(sql, { preparedStatement: () => prepared('DELETE FROM t') });
    assert.deepEqual(
      { kind: asDelete[0]?.kind, tags: asDelete[0]?.tags, executes: asDelete[0]?.executes },
      { kind: 'write', tags: ['delete-without-where'], executes: 'd' },
    );
    const asSelect = classifySql(sql, { preparedStatement: () => prepared('SELECT 1') });
    assert.equal(asSelect[0]?.kind, 'read');
    assert.equal(classifySql(sql, { preparedStatement: () => prepared('DELETE FROM t') })[0]?.kind, 'write');
    assert.equal(classifySql(sql)[0]?.kind, 'unknown', 'nothing prepared under that name');
    // Plain EXPLAIN of it only plans.
    const planned = classifySql('EXPLAIN EXECUTE d', { preparedStatement: () => prepared('DELETE FROM t') });
    assert.equal(planned[0]?.kind, 'read');
  });
});

/** sql, kind, tags, verdict for writers. */
type MergeRow = readonly [string, OperationKind, readonly RiskTag[], Verdict];
const MERGES: readonly MergeRow[] = [
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'write', ['delete-without-where', 'merge'], 'deny'],
  [
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.gone THEN DELETE WHEN MATCHED THEN UPDATE SET v = s.v',
    'write',
    ['delete-without-where', 'update-without-where', 'merge'],
    'deny',
  ],
  [
    'MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE',
    'write',
    ['delete-without-where', 'merge'],
    'deny',
  ],
  ['MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)', 'write', ['merge'], 'allow'],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DO NOTHING', 'write', ['merge'], 'allow'],
  [
    'WITH m AS (MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id) SELECT count(*) FROM m',
    'write',
    ['delete-without-where', 'data-modifying-cte', 'merge'],
    'deny',
  ],
  [
    'EXPLAIN ANALYZE MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
    'write',
    ['delete-without-where', 'merge'],
    'deny',
  ],
];

describe('MERGE', () => {
  for (const [sql, kind, tags, writers] of MERGES) {
    test(sql, () => {
      const operation = operationOf(sql);
      assert.deepEqual({ kind: operation.kind, tags: operation.tags }, { kind, tags });
      assert.equal(decide(sql, 'writers'), writers);
      assert.equal(decide(sql, 'readers'), 'deny');
    });
  }
});
