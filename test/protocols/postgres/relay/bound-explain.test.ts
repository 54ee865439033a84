import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundExplainMessages } from '../../../../src/protocols/postgres/relay/bound-explain.js';
import { FieldWriter } from '../../../../src/protocols/postgres/wire/field-writer.js';
import { FrameReader } from '../../../../src/protocols/postgres/wire/frame-reader.js';
import { decodeFrontendMessage } from '../../../../src/protocols/postgres/wire/frontend-messages.js';
import { FRONTEND } from '../../../../src/protocols/postgres/wire/message-codes.js';

/** A Bind body: portal, statement, parameter formats, values, result formats. */
function bindBody(values: (string | null)[], resultFormats: number[] = [1, 1]): Buffer {
  const w = new FieldWriter().cstring('').cstring('s1').int16(1).int16(0).int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else w.int32(Buffer.byteLength(v)).bytes(Buffer.from(v));
  }
  w.int16(resultFormats.length);
  for (const f of resultFormats) w.int16(f);
  return w.message(FRONTEND.Bind).subarray(5);
}

test('the bound EXPLAIN keeps the client’s parameter types and values, asks for text results, and ends with Flush', () => {
  const bytes = boundExplainMessages('gatehouse_plan_x', {
    text: 'select * from t where id <= $1 and name = $2 -- trailing',
    parameterTypes: [23, 0],
    bindBody: bindBody(['5', null]),
  });
  assert.ok(bytes);
  const reader = new FrameReader({ maxMessageBytes: 1 << 20 });
  reader.push(bytes);
  const messages = [];
  for (let frame = reader.next(); frame !== undefined; frame = reader.next())
    messages.push(decodeFrontendMessage(frame));
  assert.deepEqual(
    messages.map((m) => m.type),
    ['Close', 'Parse', 'Bind', 'Execute', 'Close', 'Close', 'Flush'],
  );
  const parse = messages[1] as unknown as { sql: string; parameterTypes: number[]; name: string };
  assert.equal(parse.name, 'gatehouse_plan_x');
  assert.equal(parse.sql, 'EXPLAIN (FORMAT JSON) select * from t where id <= $1 and name = $2 -- trailing\n');
  assert.deepEqual(parse.parameterTypes, [23, 0]);
  const bind = messages[2] as unknown as { portal: string; statement: string; parameterCount: number };
  assert.deepEqual([bind.portal, bind.statement, bind.parameterCount], ['gatehouse_plan_x', 'gatehouse_plan_x', 2]);
  assert.ok(!messages.some((m) => m.type === 'Sync'), 'no Sync: the client’s batch goes on');
});

test('a Bind body that is not what the protocol says gives no probe', () => {
  const good = bindBody(['5']);
  for (const bad of [Buffer.alloc(0), Buffer.from('no-nul'), good.subarray(0, good.length - 8)]) {
    assert.equal(
      boundExplainMessages('n', { text: 'select $1', parameterTypes: [0], bindBody: bad }),
      undefined,
      bad.toString('hex'),
    );
  }
});
