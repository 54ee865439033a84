import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatehouseError } from '../../src/core/errors.js';
import { type Harness, identity, openHarness, sqlOperation } from './approvals-harness.js';

const indexer = identity('indexer-job', ['indexers']);
const otherIndexer = identity('indexer-two', ['indexers']);
const owner = identity('alice', ['data-owners']);
const reader = identity('rag-job', ['rag-readers']);
const write = sqlOperation('INSERT INTO documents VALUES (1)', 'write');

function refusedWith(review: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof GatehouseError);
    assert.equal(error.details.review, review, error.message);
    return true;
  };
}

describe('access windows', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(() => h.close());

  it('grants the requested kind to the requester once approved, until the window ends', async () => {
    assert.equal(h.policy.decide(write, { identity: indexer }).verdict, 'review');
    const review = await h.approvals.requestAccess(indexer, {
      resource: 'vectors',
      kind: 'write',
      durationMs: 30 * 60_000,
      reason: 'backfill after the schema change',
    });
    assert.equal(review.kind, 'access');
    assert.deepEqual(review.approverGroups, ['data-owners']);
    // Not yet approved: nothing changes.
    assert.equal(h.policy.decide(write, { identity: indexer }).verdict, 'review');
    await assert.rejects(h.approvals.decide(review.id, indexer, 'approve'), refusedWith('self-approval'));
    await h.approvals.decide(review.id, owner, 'approve', { reason: 'ok for the backfill' });

    const granted = h.policy.decide(write, { identity: indexer });
    assert.equal(granted.verdict, 'allow');
    assert.equal(granted.rule.id, `access-window[${review.id}]`);
    // Only the requester: another member of the same group still needs review.
    assert.equal(h.policy.decide(write, { identity: otherIndexer }).verdict, 'review');
    // Only the kind asked for: DDL is still denied for indexers.
    assert.equal(
      h.policy.decide(sqlOperation('DROP TABLE documents', 'ddl', ['drop']), { identity: indexer }).verdict,
      'deny',
    );

    h.clock.advance(30 * 60_000 - 1);
    assert.equal(h.policy.decide(write, { identity: indexer }).verdict, 'allow');
    h.clock.advance(1);
    // The engine checks the clock itself: the window ends on time, before any poll.
    assert.equal(h.policy.decide(write, { identity: indexer }).verdict, 'review');
    await h.approvals.sweep();
    assert.equal((await h.approvals.get(review.id))?.state, 'expired');
  });

  it('grants a group window to every member of the group', async () => {
    const review = await h.approvals.requestAccess(indexer, {
      resource: 'vectors',
      kind: 'write',
      durationMs: 10 * 60_000,
      reason: 'team backfill',
      group: 'indexers',
    });
    await h.approvals.decide(review.id, owner, 'approve');
    assert.equal(h.policy.decide(write, { identity: otherIndexer }).verdict, 'allow');
    assert.equal(h.policy.decide(write, { identity: reader }).verdict, 'deny');
    h.clock.advance(10 * 60_000);
    assert.equal(h.policy.decide(write, { identity: otherIndexer }).verdict, 'review');
  });

  it('refuses windows no access policy allows, and denied windows grant nothing', async () => {
    const ask = (who: typeof indexer, over: Partial<Parameters<Harness['approvals']['requestAccess']>[1]> = {}) =>
      h.approvals.requestAccess(who, {
        resource: 'vectors',
        kind: 'write',
        durationMs: 30 * 60_000,
        reason: 'why',
        ...over,
      });
    await assert.rejects(ask(reader), refusedWith('not-requestable'));
    await assert.rejects(ask(indexer, { kind: 'ddl' }), refusedWith('not-requestable'));
    await assert.rejects(ask(indexer, { durationMs: 3 * 3_600_000 }), refusedWith('invalid'));
    await assert.rejects(ask(indexer, { group: 'data-owners' }), refusedWith('not-requestable'));
    await assert.rejects(ask(indexer, { resource: 'nope' }), refusedWith('invalid'));
    await assert.rejects(ask(indexer, { reason: '  ' }), refusedWith('invalid'));
    const review = await ask(indexer);
    await h.approvals.decide(review.id, owner, 'deny', { reason: 'use the batch window' });
    assert.equal(h.policy.decide(write, { identity: indexer }).verdict, 'review');
  });
});
