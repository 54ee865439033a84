import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditEventInput, unfoldResult } from '../../src/core/audit-event.js';
import { foldResults } from '../../src/store/fold-results.js';
import { type SerialisedEvent, serialiseEvents } from '../../src/store/hash-chain.js';

/** What Session records: an operation with seq first, and its result `{ seq, durationMs, ...outcome }`. */
const operation = (sessionId: string, seq: number, at: number): AuditEventInput => ({
  sessionId,
  type: 'operation',
  at,
  payload: { seq, kind: 'read', text: `SELECT "result": ${seq}`, verdict: 'allow' },
});
const outcome = (durationMs: number) => ({
  durationMs,
  outcome: 'ok',
  rows: 1,
  response: { columns: ['result'], rows: [['{"result":1}']] },
});
const result = (sessionId: string, seq: number, at: number, durationMs: number): AuditEventInput => ({
  sessionId,
  type: 'operation.result',
  at,
  payload: { seq, ...outcome(durationMs) },
});
const serialised = (events: AuditEventInput[]) => serialiseEvents(events);
const parse = ({ sessionId, type, at, payloadJson }: SerialisedEvent): AuditEventInput => ({
  sessionId,
  type,
  at,
  payload: JSON.parse(payloadJson),
});

describe('foldResults', () => {
  it('folds a result into its operation: the text `amend` would have written, unfolded back as it was', () => {
    const op = operation('s1', 7, 1000);
    const res = result('s1', 7, 1012, 12);
    const [folded, ...rest] = foldResults(serialised([op, res]));
    assert.equal(rest.length, 0);
    const amended = { ...op, payload: { ...op.payload, result: outcome(12) } };
    assert.deepEqual(folded, serialised([amended])[0]);
    assert.deepEqual(unfoldResult(parse(folded as SerialisedEvent)), [op, res]);
  });

  it('keeps the order of the rest; pipelined statements of one session each take their own result', () => {
    const events = serialised([
      operation('a', 1, 1000),
      operation('b', 1, 1001),
      operation('a', 2, 1002),
      { sessionId: 'b', type: 'session.end', at: 1003, payload: { reason: 'done' } },
      result('a', 1, 1004, 4),
      result('a', 2, 1005, 3),
    ]);
    const folded = foldResults(events).map(parse);
    assert.deepEqual(
      folded.map((e) => [
        e.sessionId,
        e.type,
        e.payload['seq'],
        (e.payload['result'] as { durationMs?: number })?.durationMs,
      ]),
      [
        ['a', 'operation', 1, 4],
        ['b', 'operation', 1, undefined],
        ['a', 'operation', 2, 3],
        ['b', 'session.end', undefined, undefined],
      ],
    );
  });

  it('leaves apart what it cannot fold without loss', () => {
    const apart = serialised([
      result('early', 1, 1005, 5), // before its operation
      operation('early', 1, 1000),
      operation('s', 1, 1000),
      result('other', 1, 1005, 5), // another session's seq 1
      result('s', 1, 1009, 5), // its time is not the operation's plus durationMs
      { ...operation('held', 1, 1000), payload: { seq: 1, verdict: 'allow', result: outcome(1) } }, // joined already
      result('held', 1, 1001, 1),
      { ...operation('shape', 1, 1000), payload: { verdict: 'allow', seq: 1 } }, // seq not first
      result('shape', 1, 1001, 1),
    ]);
    assert.equal(foldResults(apart), apart, 'nothing folded: the same array back');
    const none = serialised([operation('s', 1, 1000)]);
    assert.equal(foldResults(none), none);
  });
});
