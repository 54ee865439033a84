import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadSqlClassifier, SqlClassifier, toOperation } from '../../../../src/protocols/postgres/sql/classify.js';
import { decodeErrorFields } from '../../../../src/protocols/postgres/wire/backend-messages.js';
import { collect, errorResponse, gateFixture, messageTypes, readyForQuery, settle } from './relay-fixture.js';

const classifier = new SqlClassifier();
const operation = (sql: string) => toOperation('app', classifier.classify(sql), sql);

before(async () => {
  await loadSqlClassifier();
});

/** The audit events of the fixture's store, oldest first. */
async function events(f: Awaited<ReturnType<typeof gateFixture>>) {
  await settle();
  await f.store.settle();
  return (await f.store.readEvents(0, 1000)).filter((e) => e.sessionId === f.session.id);
}

test('an allowed read is decided, durably recorded, and handed back to run', async () => {
  const f = await gateFixture();
  const handle = await f.gate.decide(operation('SELECT 1'), 'extended');
  assert.equal(handle?.decision.verdict, 'allow');
  assert.equal((await f.sent()).length, 0, 'the gate sends nothing itself for an allowed statement');
  const recorded = await events(f);
  assert.ok(recorded.some((e) => e.type === 'operation' && e.payload['action'] === 'SELECT'));
  await handle?.finish({ outcome: 'ok' });
  await f.close();
});

test('a denied Execute never reaches the backend: a failing stand-in takes its place and the session skips to Sync', async () => {
  const f = await gateFixture();
  const toClient = collect(f.client);
  const handle = await f.gate.decide(operation('DELETE FROM accounts WHERE id = 1'), 'extended');
  assert.equal(handle, undefined);
  const sent = await f.sent();
  assert.deepEqual(messageTypes(sent), ['P'], 'one Parse: the stand-in');
  assert.match(sent.toString('latin1'), /GATEHOUSE REFUSED THIS STATEMENT/);
  assert.doesNotMatch(sent.toString('latin1'), /DELETE/);
  assert.equal(f.pending.first?.kind, 'refusal');
  assert.equal(f.state.phase, 'skipping');
  // The backend fails the stand-in; the client sees the gateway's refusal in its place.
  f.backend.answer(errorResponse('ERROR', '42601', 'syntax error at or near "GATEHOUSE"'));
  await settle();
  const error = decodeErrorFields(toClient.bytes().subarray(5));
  assert.equal(error['C'], '42501');
  const recorded = await events(f);
  assert.ok(recorded.some((e) => e.type === 'operation' && e.payload['verdict'] === 'deny'));
  await f.close();
});

test('a denied simple Query with nothing in flight is answered by the gateway alone', async () => {
  const f = await gateFixture();
  const toClient = collect(f.client);
  assert.equal(await f.gate.decide(operation('DROP TABLE accounts'), 'simple'), undefined);
  await settle();
  assert.equal((await f.sent()).length, 0);
  assert.deepEqual(messageTypes(toClient.bytes()), ['E', 'Z']);
  assert.equal(decodeErrorFields(toClient.bytes().subarray(5))['C'], '42501');
  assert.equal(f.state.phase, 'relaying', 'a simple Query error does not skip to Sync');
  await f.close();
});

test('inside a transaction block a denied simple Query is sent as a failing stand-in, so the backend aborts the block', async () => {
  const f = await gateFixture();
  f.pending.push({ kind: 'query' });
  f.backend.answer(readyForQuery('T'));
  await settle();
  assert.equal(f.relay.transactionStatus, 'T');
  assert.equal(await f.gate.decide(operation('UPDATE accounts SET balance = 0 WHERE id = 1'), 'simple'), undefined);
  const sent = await f.sent();
  assert.deepEqual(messageTypes(sent), ['Q']);
  assert.match(sent.toString('latin1'), /GATEHOUSE REFUSED THIS STATEMENT/);
  assert.equal(f.pending.first?.kind, 'query');
  assert.ok(f.pending.first?.refusal, 'its error will be swapped for the refusal');
  await f.close();
});

test('a statement that does not parse is refused (fail closed), and nothing is sent while skipping to Sync', async () => {
  const f = await gateFixture();
  assert.equal(await f.gate.decide(operation('SELEC 1 FROM'), 'extended'), undefined);
  const afterFirst = (await f.sent()).length;
  assert.ok(afterFirst > 0);
  assert.equal(f.state.phase, 'skipping');
  // Skipping: a second refusal is recorded but the backend, which ignores everything until Sync, is sent nothing.
  assert.equal(await f.gate.decide(operation('DROP TABLE accounts'), 'extended'), undefined);
  assert.equal((await f.sent()).length, afterFirst);
  const denied = (await events(f)).filter((e) => e.type === 'operation' && e.payload['verdict'] === 'deny');
  assert.equal(denied.length, 2, 'both refusals are recorded');
  await f.close();
});
