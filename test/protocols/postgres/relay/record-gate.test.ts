import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { RecordGate } from '../../../../src/protocols/postgres/relay/record-gate.js';
import { settle } from './relay-fixture.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function gate(closing = () => false) {
  const backend = new PassThrough();
  backend.on('data', () => undefined);
  const events = { opened: 0, failed: [] as unknown[] };
  const recordGate = new RecordGate(backend, {
    opened: () => events.opened++,
    failed: (error) => events.failed.push(error),
    closing,
  });
  return { backend, events, recordGate };
}

test('the gate stays shut until the record is durable, and the backend read paused while held output is full resumes', async () => {
  const { backend, events, recordGate } = gate();
  const record = deferred();
  assert.equal(recordGate.shut, false);
  recordGate.waitFor(record.promise);
  assert.equal(recordGate.shut, true);
  recordGate.hold();
  assert.equal(backend.isPaused(), true);
  await settle();
  assert.equal(events.opened, 0, 'nothing is released before the record');
  record.resolve();
  await settle();
  assert.equal(recordGate.shut, false);
  assert.equal(events.opened, 1);
  assert.equal(backend.isPaused(), false);
});

test('an older record settling does not open the gate a newer one holds', async () => {
  const { events, recordGate } = gate();
  const older = deferred();
  const newer = deferred();
  recordGate.waitFor(older.promise);
  recordGate.waitFor(newer.promise);
  older.resolve();
  await settle();
  assert.equal(recordGate.shut, true);
  assert.equal(events.opened, 0);
  newer.resolve();
  await settle();
  assert.equal(events.opened, 1);
});

test('a record that fails keeps the gate shut and reports the failure (fail closed)', async () => {
  const { events, recordGate } = gate();
  const record = deferred();
  recordGate.waitFor(record.promise);
  record.reject(new Error('disk full'));
  await settle();
  assert.equal(recordGate.shut, true);
  assert.equal(events.opened, 0);
  assert.equal((events.failed[0] as Error).message, 'disk full');
});

test('a session closing meanwhile releases nothing', async () => {
  let closing = false;
  const { events, recordGate } = gate(() => closing);
  const record = deferred();
  recordGate.waitFor(record.promise);
  closing = true;
  record.resolve();
  await settle();
  assert.equal(events.opened, 0);
});
