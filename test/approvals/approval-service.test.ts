import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { approvalNotice } from '../../src/approvals/approval-notice.js';
import type { ApprovalOutcome } from '../../src/approvals/approval-outcome.js';
import type { ApprovalRequest } from '../../src/approvals/approval-service.js';
import type { ExactOperation } from '../../src/approvals/review.js';
import { GatehouseError } from '../../src/core/errors.js';
import type { Identity } from '../../src/core/identity.js';
import type { Operation } from '../../src/core/operation.js';
import { type Harness, httpOperation, identity, openHarness, sqlOperation } from './approvals-harness.js';

const indexer = identity('indexer-job', ['indexers']);
const owner = identity('alice', ['data-owners']);
const owner2 = identity('bob', ['data-owners']);
const outsider = identity('mallory', ['rag-readers']);
const admin = identity('ops-job', ['admins']);
const dba1 = identity('dba-one', ['dba']);
const dba2 = identity('dba-two', ['dba']);
const agent = identity('agent-7', ['agents']);

function approver(who: Identity) {
  return { issuer: who.issuer, subject: who.subject, groups: who.groups };
}

/** Refusal by sub-code: the error is a GatehouseError whose `details.review` names why. */
function refusedWith(review: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${String(error)}`);
    assert.equal(error.details.review, review, error.message);
    return true;
  };
}

async function startSession(h: Harness, who: Identity): Promise<string> {
  const sessionId = randomUUID();
  await h.recorder.record({
    sessionId,
    type: 'session.start',
    at: h.clock.now(),
    payload: {
      protocol: 'postgres',
      resource: 'vectors',
      issuer: who.issuer,
      subject: who.subject,
      groups: who.groups,
      tokenId: who.tokenId,
    },
  });
  return sessionId;
}

function request(
  h: Harness,
  who: Identity,
  sessionId: string,
  operation: Operation,
  exact: ExactOperation,
): ApprovalRequest {
  const decision = h.policy.decide(operation, { identity: who });
  assert.equal(decision.verdict, 'review', `policy should ask for review of ${operation.text}`);
  return { identity: who, sessionId, operation, decision, exact };
}

function sqlRequest(h: Harness, who: Identity, sessionId: string, sql: string, kind: Operation['kind'] = 'write') {
  return request(h, who, sessionId, sqlOperation(sql, kind), { protocol: 'postgres', sql });
}

/** Starts a held request and resolves with the review id once it exists, plus the outcome promise. */
async function held(
  h: Harness,
  req: ApprovalRequest,
  options: { waitMs?: number; onTimeout?: 'expire' | 'pending'; signal?: AbortSignal } = {},
): Promise<{ id: string; outcome: Promise<ApprovalOutcome> }> {
  let created!: (id: string) => void;
  const id = new Promise<string>((resolve) => {
    created = resolve;
  });
  const outcome = h.approvals.requestApproval(req, {
    waitMs: options.waitMs ?? 60_000,
    onTimeout: options.onTimeout ?? 'expire',
    ...(options.signal ? { signal: options.signal } : {}),
    onReview: (review) => created(review.id),
  });
  return {
    id: await Promise.race([id, outcome.then(() => Promise.reject(new Error('no review was created')))]),
    outcome,
  };
}

async function reviewEvents(h: Harness, sessionId: string): Promise<string[]> {
  await h.recorder.flush();
  const found = await h.store.getSession(sessionId);
  return (found?.events ?? []).filter((e) => e.type === 'review').map((e) => String(e.payload.event));
}

describe('ApprovalService: held operations', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(() => h.close());

  it('holds a statement until an approver approves, then lets it run exactly once', async () => {
    const sessionId = await startSession(h, indexer);
    const { id, outcome } = await held(h, sqlRequest(h, indexer, sessionId, 'DELETE FROM documents'));
    const pending = await h.approvals.get(id);
    assert.equal(pending?.state, 'pending');
    assert.deepEqual(pending?.approverGroups, ['data-owners']);
    assert.equal(pending?.cause.ruleId, 'resources.vectors.policy[0]');
    assert.equal(pending?.requester.tokenId, indexer.tokenId);
    assert.equal(
      approvalNotice(pending as NonNullable<typeof pending>, 'https://gh.example.test/'),
      `gatehouse: review ${id} is waiting for 1 approval from data-owners (resources.vectors.policy[0]); ` +
        `an approver runs: gatehouse reviews approve ${id} or https://gh.example.test/ui/reviews#${id}`,
    );
    await h.approvals.decide(id, approver(owner), 'approve', { reason: 'planned re-index' });
    const result = await outcome;
    assert.equal(result.status, 'approved');
    const executed = await h.approvals.markExecuted(id);
    assert.equal(executed.state, 'executed');
    await assert.rejects(h.approvals.markExecuted(id), refusedWith('not-approved'));
    assert.deepEqual(await reviewEvents(h, sessionId), ['created', 'approved', 'executed']);
  });

  it('gives a denial with its reason, and nothing can execute', async () => {
    const sessionId = await startSession(h, indexer);
    const { id, outcome } = await held(h, sqlRequest(h, indexer, sessionId, 'DELETE FROM chunks'));
    await assert.rejects(h.approvals.decide(id, approver(owner), 'deny'), refusedWith('invalid'));
    await h.approvals.decide(id, approver(owner), 'deny', { reason: 'not during business hours' });
    const result = await outcome;
    assert.equal(result.status, 'denied');
    assert.equal(result.status === 'denied' && result.reason, 'not during business hours');
    assert.match(result.message, /denied: not during business hours/);
    await assert.rejects(h.approvals.markExecuted(id), refusedWith('not-approved'));
    assert.deepEqual(await reviewEvents(h, sessionId), ['created', 'denied']);
  });

  it('expires a held statement when its wait ends; a late approval is refused', async () => {
    const sessionId = await startSession(h, indexer);
    const { id, outcome } = await held(h, sqlRequest(h, indexer, sessionId, 'DELETE FROM old_rows'), { waitMs: 30 });
    const result = await outcome;
    assert.equal(result.status, 'expired');
    await assert.rejects(h.approvals.decide(id, approver(owner), 'approve'), refusedWith('expired'));
    await assert.rejects(h.approvals.markExecuted(id), refusedWith('not-approved'));
    assert.deepEqual(await reviewEvents(h, sessionId), ['created', 'expired']);
  });

  it('withdraws the review when the caller aborts (PostgreSQL cancel)', async () => {
    const sessionId = await startSession(h, indexer);
    const abort = new AbortController();
    const { id, outcome } = await held(h, sqlRequest(h, indexer, sessionId, 'DELETE FROM tmp'), {
      signal: abort.signal,
    });
    abort.abort();
    assert.equal((await outcome).status, 'withdrawn');
    assert.equal((await h.approvals.get(id))?.state, 'withdrawn');
    await assert.rejects(h.approvals.decide(id, approver(owner), 'approve'), refusedWith('already-decided'));
    assert.deepEqual(await reviewEvents(h, sessionId), ['created', 'withdrawn']);
  });

  it('refuses self-approval, approvers outside the groups, unknown ids and settled reviews', async () => {
    const sessionId = await startSession(h, indexer);
    const { id, outcome } = await held(h, sqlRequest(h, indexer, sessionId, 'UPDATE documents SET x = 1'));
    // The requester is refused even when it also belongs to an approver group.
    const selfApprover = { ...approver(indexer), groups: ['indexers', 'data-owners'] };
    await assert.rejects(h.approvals.decide(id, selfApprover, 'approve'), refusedWith('self-approval'));
    await assert.rejects(h.approvals.decide(id, approver(outsider), 'approve'), refusedWith('not-approver'));
    await assert.rejects(h.approvals.decide('rv_0000000000000000', approver(owner), 'approve'), refusedWith('unknown'));
    assert.equal((await h.approvals.get(id))?.state, 'pending');
    await h.approvals.decide(id, approver(owner), 'approve');
    assert.equal((await outcome).status, 'approved');
    await assert.rejects(
      h.approvals.decide(id, approver(owner2), 'deny', { reason: 'late' }),
      refusedWith('already-decided'),
    );
  });

  it('needs N distinct approvals when the rule says so', async () => {
    const sessionId = await startSession(h, admin);
    const { id, outcome } = await held(h, sqlRequest(h, admin, sessionId, 'DROP TABLE scratch', 'ddl'));
    assert.equal((await h.approvals.get(id))?.approvalsRequired, 2);
    const first = await h.approvals.decide(id, approver(dba1), 'approve');
    assert.equal(first.state, 'pending');
    await assert.rejects(h.approvals.decide(id, approver(dba1), 'approve'), refusedWith('already-decided'));
    const second = await h.approvals.decide(id, approver(dba2), 'approve');
    assert.equal(second.state, 'approved');
    assert.equal((await outcome).status, 'approved');
    assert.deepEqual(await reviewEvents(h, sessionId), ['created', 'approval', 'approved']);
  });

  it('refuses to open a review that no one could approve', async () => {
    const who = identity('lonely', ['nobody-approves']);
    const req = sqlRequest(h, who, randomUUID(), 'DELETE FROM x');
    await assert.rejects(
      h.approvals.requestApproval(req, { waitMs: 10, onTimeout: 'expire' }),
      refusedWith('no-approvers'),
    );
  });
});

describe('ApprovalService: HTTP re-send, expiry, replicas and restarts', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(() => h.close());

  const exact = (body: string): ExactOperation => ({
    protocol: 'http',
    method: 'POST',
    path: '/llm/v1/files',
    query: 'purpose=batch',
    body: Buffer.from(body),
    contentType: 'application/json',
  });

  it('answers pending when the wait ends, then runs a re-sent identical request once', async () => {
    const sessionId = await startSession(h, agent);
    const operation = httpOperation('POST', '/llm/v1/files');
    const req = {
      ...request(h, agent, sessionId, operation, exact('{"name":"a very long file name indeed"}')),
      maskExcerpt: (text: string) => text.replace('very', '[x]'),
    };
    const first = await h.approvals.requestApproval(req, { waitMs: 20, onTimeout: 'pending' });
    assert.equal(first.status, 'pending');
    const review = first.review;
    assert.equal(review.operation.bodyExcerpt, '{"name":"a [x] ', 'bounded to 16 bytes, then masked');
    assert.equal(review.operation.bodyTruncated, true);
    assert.equal(review.operation.text, 'POST /llm/v1/files?purpose=batch');
    // Sent again while pending: joins the same review instead of opening a second one.
    const again = await h.approvals.requestApproval(req, { waitMs: 20, onTimeout: 'pending' });
    assert.equal(again.review.id, review.id);
    await h.approvals.decide(review.id, approver(owner), 'approve');
    // A different body is a different operation: not covered by the approval.
    const other = request(h, agent, sessionId, operation, exact('{"name":"other"}'));
    const otherOutcome = await h.approvals.requestApproval(other, { waitMs: 10, onTimeout: 'pending' });
    assert.equal(otherOutcome.status, 'pending');
    assert.notEqual(otherOutcome.review.id, review.id);
    // Another identity sending the same request is not covered either.
    assert.equal(await h.approvals.findApproved(h.approvals.fingerprint(owner, 'llm', req.exact), owner), undefined);
    const resent = await h.approvals.requestApproval(req, { waitMs: 10, onTimeout: 'pending' });
    assert.equal(resent.status, 'approved');
    assert.equal(resent.review.id, review.id);
    await h.approvals.markExecuted(review.id);
    // Used once: the next identical request needs a new review.
    const third = await h.approvals.requestApproval(req, { waitMs: 10, onTimeout: 'pending' });
    assert.equal(third.status, 'pending');
    assert.notEqual(third.review.id, review.id);
  });

  it('expires undecided reviews and unused approvals on the clock', async () => {
    const sessionId = await startSession(h, agent);
    const req = request(h, agent, sessionId, httpOperation('POST', '/llm/v1/x'), exact('{"x":1}'));
    const pending = await h.approvals.requestApproval(req, { waitMs: 5, onTimeout: 'pending' });
    const req2 = request(h, agent, sessionId, httpOperation('POST', '/llm/v1/y'), exact('{"y":1}'));
    const approved = await h.approvals.requestApproval(req2, { waitMs: 5, onTimeout: 'pending' });
    await h.approvals.decide(approved.review.id, approver(owner), 'approve');
    h.clock.advance(5 * 60_000 + 1); // past validity (5m), not yet past the review timeout (10m)
    await h.approvals.sweep();
    assert.equal((await h.approvals.get(approved.review.id))?.state, 'expired');
    assert.equal((await h.approvals.get(pending.review.id))?.state, 'pending');
    h.clock.advance(5 * 60_000);
    await assert.rejects(h.approvals.decide(pending.review.id, approver(owner), 'approve'), refusedWith('expired'));
    await h.approvals.sweep();
    assert.equal((await h.approvals.get(pending.review.id))?.state, 'expired');
  });

  it('wakes a waiter on one replica when another replica decides (store poll)', async () => {
    const replica = await openHarness({ dbPath: h.dbPath, clock: h.clock });
    try {
      const sessionId = await startSession(h, indexer);
      const { id, outcome } = await held(h, sqlRequest(h, indexer, sessionId, 'DELETE FROM replicated'));
      await replica.approvals.decide(id, approver(owner), 'approve');
      const result = await outcome;
      assert.equal(result.status, 'approved');
      await h.approvals.markExecuted(id);
      await assert.rejects(replica.approvals.markExecuted(id), refusedWith('not-approved'));
    } finally {
      await replica.close();
    }
  });

  it('keeps reviews across a restart: a new service on the same file can decide them', async () => {
    const first = await openHarness();
    const sessionId = await startSession(first, agent);
    const req = request(first, agent, sessionId, httpOperation('POST', '/llm/v1/z'), exact('{"z":1}'));
    const { id, outcome } = await held(first, req, { onTimeout: 'pending' });
    await first.close();
    // The held caller is released with a clean "still pending" when its gateway stops.
    const released = await outcome;
    assert.equal(released.status, 'pending');
    assert.equal(released.status === 'pending' && released.why, 'stopping');
    const second = await openHarness({ dbPath: first.dbPath, clock: first.clock });
    try {
      const review = await second.approvals.get(id);
      assert.equal(review?.state, 'pending');
      assert.equal(review?.requester.subject, 'agent-7');
      await second.approvals.decide(id, approver(owner), 'approve');
      // The caller is gone, but the same request sent again to the new gateway runs once.
      const resent = await second.approvals.requestApproval(req, { waitMs: 10, onTimeout: 'pending' });
      assert.equal(resent.status, 'approved');
      await second.approvals.markExecuted(id);
      assert.deepEqual(await reviewEvents(second, sessionId), ['created', 'approved', 'executed']);
    } finally {
      await second.close();
    }
  });
});
