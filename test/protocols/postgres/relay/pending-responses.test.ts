import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingResponses } from '../../../../src/protocols/postgres/relay/pending-responses.js';
import type { StatementRun } from '../../../../src/protocols/postgres/relay/statement-run.js';
import { BACKEND } from '../../../../src/protocols/postgres/wire/message-codes.js';

test('answers complete pending messages in order, each by its own completion message', () => {
  const pending = new PendingResponses();
  pending.push({ kind: 'parse' });
  pending.push({ kind: 'bind' });
  pending.push({ kind: 'execute' });
  pending.push({ kind: 'sync' });
  assert.equal(pending.completesFirst(BACKEND.BindComplete), false, 'a BindComplete does not answer a Parse');
  assert.equal(pending.completesFirst(BACKEND.ParseComplete), true);
  assert.equal(pending.shift()?.kind, 'parse');
  assert.equal(pending.completesFirst(BACKEND.BindComplete), true);
  pending.shift();
  assert.equal(pending.completesFirst(BACKEND.DataRow), false, 'rows do not complete an Execute');
  assert.equal(pending.completesFirst(BACKEND.CommandComplete), true);
  pending.shift();
  assert.equal(pending.completesFirst(BACKEND.ReadyForQuery), true);
  pending.shift();
  assert.equal(pending.size, 0);
  assert.equal(pending.shift(), undefined);
});

test('after an error the messages the backend skips are dropped up to the Sync, which stays', () => {
  const pending = new PendingResponses();
  for (const kind of ['bind', 'execute', 'close', 'sync', 'parse'] as const) pending.push({ kind });
  assert.equal(pending.firstIsExtended(), true);
  const { dropped, syncPending } = pending.dropUntilSync();
  assert.deepEqual(
    dropped.map((d) => d.kind),
    ['bind', 'execute', 'close'],
  );
  assert.equal(syncPending, true);
  assert.equal(pending.first?.kind, 'sync');
  assert.equal(pending.size, 2);

  const noSync = new PendingResponses();
  noSync.push({ kind: 'execute' });
  assert.deepEqual(noSync.dropUntilSync().syncPending, false, 'no Sync queued: the client must still send one');
  assert.equal(noSync.size, 0);
});

test('what may still change the transaction status, and whether a ReadyForQuery is still to come', () => {
  const pending = new PendingResponses();
  pending.push({ kind: 'parse' });
  pending.push({ kind: 'describe' });
  assert.equal(pending.mayChangeTransactionStatus(), false);
  assert.equal(pending.awaitsReadyForQuery(), false);
  pending.push({ kind: 'execute' });
  assert.equal(pending.mayChangeTransactionStatus(), true, 'a statement in flight may BEGIN or COMMIT');
  assert.equal(pending.awaitsReadyForQuery(), false);
  pending.push({ kind: 'query' });
  assert.equal(pending.awaitsReadyForQuery(), true);
  assert.equal(pending.clear().length, 4);
  assert.equal(pending.size, 0);
  assert.equal(pending.mayChangeTransactionStatus(), false);
});

test('a long pipeline keeps its order across the queue compacting itself, and name changes in flight are listed', () => {
  const pending = new PendingResponses();
  const order: number[] = [];
  const changes = new Map<number, () => void>();
  for (let i = 0; i < 5000; i++) {
    const change = () => order.push(i);
    changes.set(i, change);
    pending.push(i % 2 === 0 ? { kind: 'parse', change } : { kind: 'bind' });
  }
  for (let i = 0; i < 3000; i++) pending.shift();
  assert.equal(pending.size, 2000);
  // The first still pending is number 3000, a Parse; its change is the first one listed.
  assert.equal(pending.first?.change, changes.get(3000));
  const listed = [...pending.changes()];
  assert.equal(listed.length, 1000);
  assert.equal(listed[0], changes.get(3000));
  assert.equal(listed.at(-1), changes.get(4998));
  let next = 3000;
  for (let item = pending.shift(); item !== undefined; item = pending.shift(), next++) {
    assert.equal(item.kind, next % 2 === 0 ? 'parse' : 'bind', `item ${next}`);
  }
  assert.equal(next, 5000);
});

test('a cut may cancel only when nothing the client sent waits behind the next Query or Sync', () => {
  const pending = new PendingResponses();
  pending.push({ kind: 'execute' });
  pending.push({ kind: 'execute' });
  assert.equal(pending.beyondNextReady(), false, 'no Sync yet: the rest of the batch is skipped anyway');
  pending.push({ kind: 'sync' });
  assert.equal(pending.beyondNextReady(), false);
  pending.push({ kind: 'query' });
  assert.equal(pending.beyondNextReady(), true, 'a pipelined Query after the Sync would be hit');
});

test('an Execute under result limits is found only in the batch still open', () => {
  const limited = { handle: { decision: { resultLimits: { rows: 10 } } } } as unknown as StatementRun;
  const unlimited = { handle: { decision: {} } } as unknown as StatementRun;
  const pending = new PendingResponses();
  pending.push({ kind: 'execute', run: limited });
  pending.push({ kind: 'sync' });
  pending.push({ kind: 'execute', run: unlimited });
  assert.equal(pending.limitedInOpenBatch(), false, 'the limited Execute is in a batch already synced');
  pending.push({ kind: 'execute', run: limited });
  pending.push({ kind: 'bind' });
  assert.equal(pending.limitedInOpenBatch(), true);
});
