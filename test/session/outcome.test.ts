import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestOutcome } from '../../src/session/outcome.js';

const allow = { verdict: 'allow' } as const;
const deny = { verdict: 'deny' } as const;
const review = { verdict: 'review' } as const;

test('a result that ran is counted as it ended', () => {
  assert.equal(requestOutcome({ outcome: 'ok' }, allow), 'ok');
  assert.equal(requestOutcome({ outcome: 'error', error: '42P01: relation does not exist' }, allow), 'error');
  // An approved operation that ran counts as what became of it, not as review.
  assert.equal(requestOutcome({ outcome: 'ok' }, review), 'ok');
});

test('a refusal is a denial or a review by its verdict, unless its code says otherwise', () => {
  // As PostgreSQL and HTTP record them: a policy denial, an unclassifiable body (no code), a review still pending.
  assert.equal(requestOutcome({ outcome: 'refused', error: 'policy.denied' }, deny), 'denied');
  assert.equal(requestOutcome({ outcome: 'refused' }, deny), 'denied');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'review 1f2e pending' }, review), 'review');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'review 1f2e denied' }, review), 'review');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'policy.review_required' }, review), 'review');
  // Approved, then refused by a budget, a result limit or tenant confinement: the gateway denied the run.
  assert.equal(requestOutcome({ outcome: 'refused', error: 'quota.exceeded' }, review), 'denied');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'result-limit' }, allow), 'denied');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'policy.denied' }, allow), 'denied');
  // A malformed request or an unrecordable operation is an error, whatever the verdict.
  assert.equal(requestOutcome({ outcome: 'refused', error: 'request.invalid' }, allow), 'error');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'audit.unavailable' }, review), 'error');
});

test('the refusal table has no inherited keys: a code named like an Object method is not an outcome', () => {
  assert.equal(requestOutcome({ outcome: 'refused', error: 'constructor' }, deny), 'denied');
  assert.equal(requestOutcome({ outcome: 'refused', error: 'toString' }, review), 'review');
});
