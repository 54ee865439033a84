import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResultLimits } from '../../../../src/core/decision.js';
import { StatementRun } from '../../../../src/protocols/postgres/relay/statement-run.js';
import { decodeErrorFields } from '../../../../src/protocols/postgres/wire/backend-messages.js';
import type { OperationHandle, OperationResult } from '../../../../src/session/session.js';
import {
  backendMessage,
  collect,
  commandComplete,
  errorResponse,
  messageTypes,
  readyForQuery,
  relayFixture,
  settle,
} from './relay-fixture.js';

/** A DataRow of one text value. */
function dataRow(value: string): Buffer {
  const body = Buffer.alloc(6 + value.length);
  body.writeInt16BE(1, 0);
  body.writeInt32BE(value.length, 2);
  body.write(value, 6, 'latin1');
  return backendMessage('D', body);
}

/** A run allowed under `limits`, and the result it records. */
function limitedRun(limits: ResultLimits): { run: StatementRun; recorded: () => OperationResult | undefined } {
  let recorded: OperationResult | undefined;
  const handle = {
    seq: 1,
    decision: {
      verdict: 'allow',
      reason: 'rule-allows',
      rule: { id: 'app.policy[0]', groups: [], selector: 'allow: read' },
      message: '',
      resultLimits: limits,
    },
    capture: () => undefined,
    captureForensic: () => undefined,
    finish: async (result: OperationResult) => {
      recorded = result;
    },
    urgeRecord: () => undefined,
  } as unknown as OperationHandle;
  return { run: new StatementRun(handle, () => undefined), recorded: () => recorded };
}

/** Each message of `bytes` as type and body. */
function messages(bytes: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  for (let at = 0; at + 5 <= bytes.length; at += 1 + bytes.readInt32BE(at + 1))
    out.push({
      type: String.fromCharCode(bytes[at] as number),
      body: bytes.subarray(at + 5, at + 1 + bytes.readInt32BE(at + 1)),
    });
  return out;
}

test('past maxResultRows the row is replaced by a 54000 error, the rest swallowed up to ReadyForQuery', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  const { run, recorded } = limitedRun({ rows: 2 });
  f.pending.push({ kind: 'query', run });
  f.backend.answer(
    dataRow('a'),
    dataRow('b'),
    dataRow('c'),
    dataRow('d'),
    commandComplete('SELECT 4'),
    readyForQuery('I'),
  );
  await settle();
  const sent = messages(toClient.bytes());
  assert.deepEqual(
    sent.map((m) => m.type),
    ['D', 'D', 'E', 'Z'],
  );
  const error = decodeErrorFields(sent[2]?.body as Buffer);
  assert.equal(error['C'], '54000');
  assert.match(
    error['M'] ?? '',
    /cut after 2 rows .*over maxResultRows 2 of the rule that allowed the statement \(app\.policy\[0\]\)/,
  );
  assert.equal(f.cancels(), 0, 'the statement had ended: no cancel');
  assert.equal(recorded()?.outcome, 'error');
  assert.equal(recorded()?.rows, 2);
  assert.match(recorded()?.error ?? '', /^54000: .*; the backend completed the statement$/);
  assert.equal(f.pending.size, 0);
});

test('a statement still running when cut is cancelled; its ending error is swallowed', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  const { run, recorded } = limitedRun({ bytes: 25 });
  f.pending.push({ kind: 'query', run });
  // Each DataRow is 12 bytes: two fit in 25.
  f.backend.answer(dataRow('a'), dataRow('b'), dataRow('c'));
  await settle();
  assert.equal(f.cancels(), 1);
  f.backend.answer(
    dataRow('d'),
    errorResponse('ERROR', '57014', 'canceling statement due to user request'),
    readyForQuery('I'),
  );
  await settle();
  assert.deepEqual(messageTypes(toClient.bytes()), ['D', 'D', 'E', 'Z']);
  assert.doesNotMatch(toClient.bytes().toString('latin1'), /57014/, 'the cancel is not the client’s error');
  assert.match(
    recorded()?.error ?? '',
    /cut after 2 rows \(24 bytes\): over maxResultBytes 25 .*; the backend statement was stopped$/,
  );
});

test('cut inside a transaction block: the client is told E and the backend block is failed', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  const { run } = limitedRun({ rows: 1 });
  f.pending.push({ kind: 'query', run });
  f.backend.answer(dataRow('a'), dataRow('b'), commandComplete('UPDATE 2'), readyForQuery('T'));
  await settle();
  const sent = messages(toClient.bytes());
  assert.deepEqual(
    sent.map((m) => m.type),
    ['D', 'E', 'Z'],
  );
  assert.equal(sent[2]?.body.toString(), 'E');
  assert.match(f.backend.written().toString('latin1'), /SELECT 1 OPERATOR\(pg_catalog\.\/\) 0/);
  f.backend.answer(errorResponse('ERROR', '22012', 'division by zero'), readyForQuery('E'));
  await settle();
  assert.equal(messages(toClient.bytes()).length, 3, 'the abort’s answers never reach the client');
  assert.equal(f.relay.transactionStatus, 'E');
  assert.equal(f.pending.size, 0);
});

test('rows under the limit, and statements without limits, pass untouched', async () => {
  const f = relayFixture();
  const toClient = collect(f.client);
  const { run } = limitedRun({ rows: 2, sessionRows: 100 });
  f.pending.push({ kind: 'query', run });
  f.backend.answer(dataRow('a'), dataRow('b'), commandComplete('SELECT 2'), readyForQuery('I'));
  await settle();
  assert.deepEqual(messageTypes(toClient.bytes()), ['D', 'D', 'C', 'Z']);
});
