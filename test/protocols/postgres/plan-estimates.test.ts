import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { classifySql, loadSqlClassifier } from '../../../src/protocols/postgres/sql/classify.js';
import {
  estimatesFromPlans,
  explainableTexts,
  explainSql,
} from '../../../src/protocols/postgres/sql/plan-estimates.js';

/** A plan document as EXPLAIN (FORMAT JSON) gives it (fields the gateway does not read left out). */
const plan = (node: object) => JSON.stringify([{ Plan: node }]);
const scan = (rows: number, cost = 100) => ({ 'Node Type': 'Seq Scan', 'Total Cost': cost, 'Plan Rows': rows });

describe('planner estimates from EXPLAIN (FORMAT JSON)', () => {
  before(loadSqlClassifier);

  test('a read: the top node’s cost and rows', () => {
    assert.deepEqual(estimatesFromPlans([plan(scan(5000, 1443.5))]), { cost: 1443.5, rows: 5000 });
  });

  test('an UPDATE/DELETE: the rows fed to ModifyTable, not the rows it returns', () => {
    const update = { 'Node Type': 'ModifyTable', 'Total Cost': 900, 'Plan Rows': 0, Plans: [scan(4321, 800)] };
    assert.deepEqual(estimatesFromPlans([plan(update)]), { cost: 900, rows: 4321 });
  });

  test('a data-modifying CTE under a SELECT counts the rows it changes', () => {
    const cteDelete = { 'Node Type': 'ModifyTable', 'Total Cost': 50, 'Plan Rows': 10, Plans: [scan(70000)] };
    const top = { 'Node Type': 'CTE Scan', 'Total Cost': 60, 'Plan Rows': 10, Plans: [cteDelete] };
    assert.deepEqual(estimatesFromPlans([plan(top)]), { cost: 60, rows: 70000 });
  });

  test('several statements add up; anything not a plan gives no estimate', () => {
    assert.deepEqual(estimatesFromPlans([plan(scan(1, 8)), plan(scan(2, 9))]), { cost: 17, rows: 3 });
    for (const bad of ['not json', '[]', '[{"Plan": {"Total Cost": "1"}}]', '{"Plan": {}}'])
      assert.equal(estimatesFromPlans([bad]), undefined, bad);
  });

  test('only plannable statements are explained, each cut by the parser', () => {
    assert.deepEqual(explainableTexts(classifySql('select 1; delete from t where id = 2')), [
      'select 1',
      'delete from t where id = 2',
    ]);
    for (const sql of [
      'vacuum t',
      'create table t (id int)',
      'select 1; vacuum',
      'prepare p as select 1',
      'do $$ begin end $$',
    ])
      assert.equal(explainableTexts(classifySql(sql)), undefined, sql);
    // A trailing line comment cannot swallow the separator.
    assert.equal(
      explainSql(['select 1 -- x', 'select 2']),
      'EXPLAIN (FORMAT JSON) select 1 -- x\n;\nEXPLAIN (FORMAT JSON) select 2\n;',
    );
  });
});
