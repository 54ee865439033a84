import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type Harness, identity, ManualClock, openHarness, sqlOperation } from './approvals-harness.js';

/** Two replicas sharing one PostgreSQL store: the conditional updates and row locks must hold across them. */
describe('reviews on a shared PostgreSQL store', () => {
  let server: TestPostgres;
  let database: string;
  let a: Harness;
  let b: Harness;
  const indexer = identity('indexer-job', ['indexers']);
  const admin = identity('ops-job', ['admins']);
  const owner = identity('alice', ['data-owners']);

  before(async () => {
    server = await startPostgres();
    database = `reviews_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query(`create database ${database}`);
    await client.end();
    const url = new URL(server.url);
    url.pathname = `/${database}`;
    const clock = new ManualClock();
    a = await openHarness({ clock, openStore: () => PostgresStore.open(url.href) });
    b = await openHarness({ clock, openStore: () => PostgresStore.open(url.href) });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    if (server) {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      await client.query(`drop database if exists ${database} with (force)`);
      await client.end();
    }
    await server?.stop();
  });

  const request = (h: Harness, who: typeof indexer, sql: string, kind: 'write' | 'ddl' = 'write') => {
    const operation = sqlOperation(sql, kind);
    return {
      identity: who,
      sessionId: randomUUID(),
      operation,
      decision: h.policy.decide(operation, { identity: who }),
      exact: { protocol: 'postgres' as const, sql },
    };
  };

  it('a decision on one replica wakes the caller held on the other; it runs exactly once', async () => {
    let created!: (id: string) => void;
    const id = new Promise<string>((resolve) => {
      created = resolve;
    });
    const outcome = a.approvals.requestApproval(request(a, indexer, 'DELETE FROM documents'), {
      waitMs: 60_000,
      onTimeout: 'expire',
      onReview: (r) => created(r.id),
    });
    const reviewId = await id;
    await b.approvals.decide(reviewId, owner, 'approve');
    assert.equal((await outcome).status, 'approved');
    const claims = await Promise.allSettled([a.approvals.markExecuted(reviewId), b.approvals.markExecuted(reviewId)]);
    assert.deepEqual(claims.map((c) => c.status).sort(), ['fulfilled', 'rejected']);
  });

  it('two approvers deciding at the same moment on two replicas both count, once each', async () => {
    let created!: (id: string) => void;
    const id = new Promise<string>((resolve) => {
      created = resolve;
    });
    const outcome = a.approvals.requestApproval(request(a, admin, 'DROP TABLE scratch', 'ddl'), {
      waitMs: 60_000,
      onTimeout: 'expire',
      onReview: (r) => created(r.id),
    });
    const reviewId = await id;
    await Promise.all([
      a.approvals.decide(reviewId, identity('dba-one', ['dba']), 'approve'),
      b.approvals.decide(reviewId, identity('dba-two', ['dba']), 'approve'),
    ]);
    const result = await outcome;
    assert.equal(result.status, 'approved');
    assert.equal((await a.approvals.get(reviewId))?.decisions.length, 2);
  });

  it('remembers inbound webhook nonces across replicas', async () => {
    const now = a.clock.now();
    assert.equal(await a.approvals.reviews.rememberNonce('v1=abc', now, 60_000), true);
    assert.equal(await b.approvals.reviews.rememberNonce('v1=abc', now, 60_000), false);
  });

  it('an access window approved on one replica is granted on the other after its poll', async () => {
    const write = sqlOperation('INSERT INTO documents VALUES (1)', 'write');
    const review = await a.approvals.requestAccess(indexer, {
      resource: 'vectors',
      kind: 'write',
      durationMs: 15 * 60_000,
      reason: 'backfill',
    });
    await a.approvals.decide(review.id, owner, 'approve');
    assert.equal(a.policy.decide(write, { identity: indexer }).verdict, 'allow');
    await b.approvals.sweep();
    assert.equal(b.policy.decide(write, { identity: indexer }).verdict, 'allow');
  });
});
