import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { classifySql, loadSqlClassifier, toOperation } from '../../../src/protocols/postgres/sql/classify.js';
import { runCli } from '../../cli/cli-run.js';
import { temporaryDirectory } from '../../support/temp-dir.js';

// The quickstart `vectors` policy: indexers write, but unbounded deletes and updates go to review.
const QUICKSTART = `
identity:
  devIssuer: { enabled: true }
resources:
  - name: vectors
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [indexers]
        allow: [read, write]
        review: [ddl, delete-without-where, update-without-where, truncate, drop]
        approvers: [owners]
`;
const engine = new PolicyEngine(parseConfig(QUICKSTART, '/quickstart/gatehouse.yaml', {}).config.resources);

function unbounded(sql: string): boolean {
  return classifySql(sql).some(
    (s) => s.tags.includes('delete-without-where') || s.tags.includes('update-without-where'),
  );
}

function verdict(sql: string): string {
  return engine.decide(toOperation('vectors', classifySql(sql), sql), { identity: { groups: ['indexers'] } }).verdict;
}

/** WHERE clauses that do not narrow the target's rows: each must count as no WHERE at all. */
const UNBOUNDED: readonly string[] = [
  'DELETE FROM documents WHERE true',
  'DELETE FROM documents WHERE 1 = 1',
  "DELETE FROM documents WHERE 'a' = 'a'",
  'DELETE FROM documents WHERE 2 > 1',
  'DELETE FROM documents WHERE NOT false',
  'DELETE FROM documents WHERE false OR true',
  "DELETE FROM documents WHERE 't'::boolean",
  "DELETE FROM documents WHERE 'yes'",
  'DELETE FROM documents WHERE id = id',
  'DELETE FROM documents WHERE documents.id = documents.id',
  'DELETE FROM public.documents WHERE public.documents.id = public.documents.id',
  'DELETE FROM documents d WHERE d.id >= d.id',
  'DELETE FROM documents WHERE id IS NOT DISTINCT FROM id',
  'DELETE FROM documents WHERE (a, b) = (a, b)',
  'DELETE FROM documents WHERE NOT (id <> id)',
  'DELETE FROM documents WHERE x IS NULL OR x IS NOT NULL',
  'DELETE FROM documents WHERE x = 5 OR x <> 5',
  'DELETE FROM documents WHERE x < 5 OR x >= 5',
  'DELETE FROM documents WHERE x IS NULL OR NOT (x IS NULL)',
  'DELETE FROM documents WHERE flag OR NOT flag',
  'DELETE FROM documents WHERE NOT flag OR flag',
  'DELETE FROM documents WHERE flag IS TRUE OR flag IS NOT TRUE',
  'DELETE FROM documents WHERE id IN (SELECT id FROM documents WHERE true)',
  'DELETE FROM documents WHERE id = 5 OR true',
  'DELETE FROM documents WHERE id = 5 OR 1 = 1',
  'DELETE FROM documents WHERE id = 5 OR $1',
  'DELETE FROM documents WHERE coalesce(true, x)',
  'DELETE FROM documents WHERE id IN (id)',
  'DELETE FROM documents WHERE id IN (SELECT id FROM documents)',
  "DELETE FROM documents WHERE name LIKE '%'",
  'DELETE FROM documents WHERE EXISTS (SELECT 1 FROM other)',
  'DELETE FROM documents WHERE EXISTS (SELECT 1 FROM other WHERE id = 1)',
  // The inner alias hides the target: documents.id there is other's column.
  'DELETE FROM documents WHERE EXISTS (SELECT 1 FROM other documents WHERE documents.id = 1)',
  'DELETE FROM documents WHERE (SELECT true)',
  'DELETE FROM documents WHERE $1',
  'DELETE FROM documents WHERE random() < 2',
  "DELETE FROM documents WHERE now() > '2000-01-01'",
  'DELETE FROM documents WHERE id >= id AND 1 = 1',
  'DELETE FROM documents d USING other o WHERE o.id = o.id',
  'DELETE FROM documents d USING other o WHERE o.flag',
  'UPDATE documents SET a = 1 WHERE true',
  'UPDATE documents SET a = 1 WHERE 1 = 1',
  'UPDATE documents d SET a = 1 FROM other o WHERE o.flag AND o.x = o.x',
  'WITH gone AS (DELETE FROM documents WHERE 1 = 1 RETURNING id) SELECT count(*) FROM gone',
  'WITH t AS (UPDATE documents SET a = 1 WHERE NOT false RETURNING id) SELECT 1',
  'DO $$ BEGIN DELETE FROM documents WHERE 1 = 1; END $$',
  'CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS $$ DELETE FROM documents WHERE true $$',
  'MERGE INTO documents d USING other o ON d.id = o.id WHEN MATCHED THEN DELETE',
];

/** WHERE clauses that narrow the target's rows: these must stay allowed. */
const BOUNDED: readonly string[] = [
  'DELETE FROM documents WHERE id = 5',
  "DELETE FROM documents WHERE created_at < now() - interval '30 days'",
  'DELETE FROM documents WHERE id IN (SELECT doc_id FROM stale)',
  'DELETE FROM documents WHERE id IN (SELECT id FROM documents WHERE stale)',
  'DELETE FROM documents a USING other b WHERE a.x = b.y',
  'UPDATE documents d SET a = 1 FROM other o WHERE d.id = o.doc_id',
  'DELETE FROM documents WHERE EXISTS (SELECT 1 FROM other o WHERE o.doc_id = documents.id)',
  'DELETE FROM documents WHERE id = $1',
  'DELETE FROM documents WHERE false',
  'DELETE FROM documents WHERE 1 = 0 OR id = 5',
  'DELETE FROM documents WHERE id <> id OR id = 3',
  'DELETE FROM documents WHERE x = 5 OR x <> 6',
  'UPDATE documents SET a = 1 WHERE id = 5 AND true',
  'DELETE FROM documents WHERE deleted_at IS NOT NULL',
  'DELETE FROM documents WHERE flag IS TRUE OR flag IS FALSE',
  'DELETE FROM documents WHERE flag OR NOT other_flag',
  'DELETE FROM documents WHERE CURRENT OF c',
  'WITH gone AS (DELETE FROM documents WHERE id = 7 RETURNING id) SELECT count(*) FROM gone',
  'DO $$ BEGIN DELETE FROM documents WHERE id = 1; END $$',
];

describe('WHERE clauses that bound nothing count as no WHERE', () => {
  before(loadSqlClassifier);

  test(`${UNBOUNDED.length} unbounded forms are tagged and held for review`, () => {
    assert.ok(UNBOUNDED.length >= 25);
    for (const sql of UNBOUNDED) {
      assert.ok(unbounded(sql), `should be unbounded: ${sql}`);
      // DO and CREATE FUNCTION are ddl/admin for other reasons; the rest would be allowed writes without the tag.
      if (!sql.startsWith('DO') && !sql.startsWith('CREATE')) assert.equal(verdict(sql), 'review', sql);
    }
  });

  test(`${BOUNDED.length} bounded forms stay as they were`, () => {
    for (const sql of BOUNDED) {
      assert.ok(!unbounded(sql), `should be bounded: ${sql}`);
      if (!sql.startsWith('DO')) assert.equal(verdict(sql), 'allow', sql);
    }
  });

  test('the operation says why the WHERE clause bounds nothing', () => {
    const operation = toOperation('vectors', classifySql('DELETE FROM documents WHERE true'), '');
    assert.deepEqual(operation.notes, [
      'the WHERE clause of DELETE on documents does not depend on the rows of documents: the condition is constant true',
    ]);
    const self = toOperation('vectors', classifySql('UPDATE documents SET a = 1 WHERE id = id'), '');
    assert.match(self.notes?.[0] ?? '', /UPDATE on documents .* = compares an expression with itself/);
    // In a DO body too.
    const body = toOperation('vectors', classifySql('DO $$ BEGIN UPDATE documents SET a = 1 WHERE 1 = 1; END $$'), '');
    assert.match(body.notes?.[0] ?? '', /UPDATE on documents .* compares constants/);
    // A missing WHERE is plain from the text: no note.
    assert.equal(toOperation('vectors', classifySql('DELETE FROM documents'), '').notes, undefined);
  });

  test('texts of one shape with other constants are judged each on their own (shape cache)', () => {
    // Each pair shares a normalized shape; the first of each is classified first and must not decide the second.
    const pairs: readonly [string, string][] = [
      ['DELETE FROM documents WHERE false', 'DELETE FROM documents WHERE true'],
      ['DELETE FROM documents WHERE 1 = 2', 'DELETE FROM documents WHERE 1 = 1'],
      ['DELETE FROM documents WHERE x = 5 OR x <> 6', 'DELETE FROM documents WHERE x = 5 OR x <> 5'],
      ["DELETE FROM documents WHERE name LIKE 'a%'", "DELETE FROM documents WHERE name LIKE '%'"],
      ['DELETE FROM documents WHERE id IN (7)', 'DELETE FROM documents WHERE id IN (id)'],
    ];
    for (const [bounded, unboundedText] of pairs) {
      assert.ok(!unbounded(bounded), bounded);
      assert.ok(unbounded(unboundedText), unboundedText);
      assert.ok(!unbounded(bounded), `${bounded} (again, after the other)`);
    }
  });

  test('policy explain prints the reason', async () => {
    const dir = temporaryDirectory('gatehouse-where-');
    writeFileSync(join(dir, 'gatehouse.yaml'), QUICKSTART);
    const result = await runCli(
      [
        'policy',
        'explain',
        '-c',
        'gatehouse.yaml',
        '--resource',
        'vectors',
        '--groups',
        'indexers',
        '--sql',
        'DELETE FROM documents WHERE 1 = 1',
      ],
      { cwd: dir },
    );
    assert.equal(result.code, 4, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.equal(out.decision, 'review');
    assert.equal(out.rule.selector, 'review: delete-without-where');
    assert.match(out.operation.notes[0], /does not depend on the rows of documents/);
  });
});
