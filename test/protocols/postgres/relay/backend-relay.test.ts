import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeErrorFields } from '../../../../src/protocols/postgres/wire/backend-messages.js';
import {
  bindComplete,
  collect,
  commandComplete,
  errorResponse,
  messageTypes,
  parseComplete,
  readyForQuery,
  relayFixture,
  settle,
} from './relay-fixture.js';

/** The fields of the first ErrorResponse in `bytes`. */
function firstError(bytes: Buffer): Readonly<Record<string, string>> {
  for (let at = 0; at + 5 <= bytes.length; at += 1 + bytes.readInt32BE(at + 1)) {
    if (bytes[at] === 'E'.charCodeAt(0))
      return decodeErrorFields(bytes.subarray(at + 5, at + 1 + bytes.readInt32BE(at + 1)));
  }
  throw new Error('no ErrorResponse');
}

test('answers reach the client in order and complete the pending messages; ReadyForQuery sets the status', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  for (const kind of ['parse', 'bind', 'execute', 'sync'] as const) f.pending.push({ kind });
  f.backend.answer(parseComplete(), bindComplete(), commandComplete('BEGIN'));
  await settle();
  assert.equal(f.pending.size, 1, 'only the Sync is still waiting');
  assert.equal(f.readyCount(), 0);
  f.backend.answer(readyForQuery('T'));
  await settle();
  assert.deepEqual(messageTypes(toClient.bytes()), ['1', '2', 'C', 'Z']);
  assert.equal(f.pending.size, 0);
  assert.equal(f.relay.transactionStatus, 'T');
  assert.equal(f.readyCount(), 1);
  assert.equal(f.state.phase, 'relaying');
});

test('an extended-protocol error with no Sync queued: the rest of the batch is dropped and the session skips to Sync', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  for (const kind of ['parse', 'bind', 'execute'] as const) f.pending.push({ kind });
  f.backend.answer(errorResponse('ERROR', '42601', 'syntax error'));
  await settle();
  assert.equal(f.pending.size, 0);
  assert.equal(f.state.phase, 'skipping');
  assert.equal(firstError(toClient.bytes())['C'], '42601', "the backend's own error reaches the client");
});

test('with a Sync already queued, an error drops up to it and the session keeps relaying', async () => {
  const f = relayFixture();
  for (const kind of ['parse', 'bind', 'execute', 'sync'] as const) f.pending.push({ kind });
  f.backend.answer(errorResponse('ERROR', '42P01', 'relation "nope" does not exist'));
  await settle();
  assert.equal(f.pending.first?.kind, 'sync');
  assert.equal(f.state.phase, 'relaying');
  f.backend.answer(readyForQuery('I'));
  await settle();
  assert.equal(f.pending.size, 0);
});

test("a refused statement's stand-in error is swapped for the gateway's refusal", async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  const { GatehouseError } = await import('../../../../src/core/errors.js');
  f.pending.push({ kind: 'refusal', refusal: new GatehouseError('policy.denied', 'gatehouse: DROP is not allowed') });
  f.pending.push({ kind: 'sync' });
  f.backend.answer(errorResponse('ERROR', '42601', 'syntax error at or near "GATEHOUSE"'), readyForQuery('I'));
  await settle();
  const error = firstError(toClient.bytes());
  assert.equal(error['C'], '42501');
  assert.match(error['M'] ?? '', /DROP is not allowed/);
  assert.doesNotMatch(toClient.bytes().toString('latin1'), /GATEHOUSE/, 'the stand-in never shows');
});

test('answers wait while the record gate is shut and go out, in order, once the record is durable', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  let durable!: () => void;
  const record = new Promise<void>((resolve) => {
    durable = resolve;
  });
  let urged = 0;
  f.relay.holdUntilRecorded(record, { urgeRecord: () => urged++ });
  f.pending.push({ kind: 'query' });
  f.backend.answer(commandComplete('SELECT 0'), readyForQuery('I'));
  await settle();
  assert.equal(toClient.bytes().length, 0, 'nothing leaves before its record');
  assert.equal(f.pending.size, 0, 'answers are still read and completed meanwhile');
  assert.equal(urged, 0, 'a small answer does not urge the record');
  durable();
  await settle();
  assert.deepEqual(messageTypes(toClient.bytes()), ['C', 'Z']);
});

test('a client that does not read pauses the backend; reading it resumes the backend', async () => {
  const f = relayFixture({ clientHighWaterMark: 64 });
  f.pending.push({ kind: 'query' });
  const rows = Array.from({ length: 50 }, () => commandComplete(`SELECT ${'9'.repeat(40)}`));
  f.backend.answer(...rows);
  await settle();
  assert.equal(f.backend.isPaused(), true, 'the backend waits for the slow client');
  f.client.resume();
  await settle();
  assert.equal(f.backend.isPaused(), false);
});

test("the backend's FATAL and hang-up end the session; a hang-up without one is reported as a lost connection", async () => {
  const fatal = relayFixture();
  fatal.backend.answer(errorResponse('FATAL', '57P01', 'terminating connection due to administrator command'));
  await settle();
  fatal.backend.destroy();
  await settle();
  assert.equal(fatal.state.phase, 'closing');
  assert.deepEqual(
    fatal.closes.map((c) => c.reason),
    ['backend ended the session'],
  );

  const lost = relayFixture();
  lost.backend.destroy();
  await settle();
  assert.equal(lost.closes[0]?.reason, 'backend connection lost');
  assert.equal((lost.closes[0]?.fatal as { code?: string } | undefined)?.code, '08006');
});

test('a malformed backend message ends the session instead of being relayed', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  f.pending.push({ kind: 'sync' });
  // A ReadyForQuery whose status byte is none of I, T, E.
  f.backend.answer(Buffer.from([0x5a, 0, 0, 0, 5, 0x58]));
  await settle();
  assert.equal(f.closes[0]?.reason, 'backend protocol error');
  assert.deepEqual(messageTypes(toClient.bytes()), []);
});
