import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { BackendWriter } from '../../../../src/protocols/postgres/relay/backend-writer.js';
import { PendingResponses } from '../../../../src/protocols/postgres/relay/pending-responses.js';
import { PlanEstimator } from '../../../../src/protocols/postgres/relay/plan-probe.js';
import { loadSqlClassifier, SqlClassifier } from '../../../../src/protocols/postgres/sql/classify.js';
import { BackendSocket } from './relay-fixture.js';

before(loadSqlClassifier);

test('an Execute whose Bind the gateway no longer holds is unmeasured: over every limit, nothing sent', async () => {
  const backend = new BackendSocket();
  const pending = new PendingResponses();
  const estimator = new PlanEstimator('app', {
    toBackend: new BackendWriter(backend),
    pending,
    transactionStatus: () => 'I',
    idle: async () => true,
  });
  const statements = new SqlClassifier().classify('delete from t where id < $1');
  const estimates = await estimator.estimateBound(statements, ['rows'], undefined);
  assert.deepEqual(estimates, { cost: Number.POSITIVE_INFINITY, rows: Number.POSITIVE_INFINITY });
  assert.equal(pending.size, 0);
  assert.equal(backend.written().length, 0);
  // Nothing asked for: no figure at all.
  assert.equal(await estimator.estimateBound(statements, [], undefined), undefined);
});
