import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MaskCounts } from '../../../src/masking/counts.js';
import { type MaskingPlan, resolveMasking } from '../../../src/masking/profile.js';
import { maskErrorMessage, maskNotification } from '../../../src/protocols/postgres/masking/message-masking.js';
import { FieldWriter } from '../../../src/protocols/postgres/wire/field-writer.js';
import { BACKEND } from '../../../src/protocols/postgres/wire/message-codes.js';

/** ErrorResponse, NoticeResponse and NotificationResponse masking, field by field (message-masking.ts). */

function planOf(config: Record<string, unknown>): MaskingPlan {
  const resolved = resolveMasking({ requests: true, exempt: [], groups: [], ...config } as never, []);
  return (resolved as { mode: 'mask'; plan: MaskingPlan }).plan;
}
const scanning = planOf({});
const rulesOnly = planOf({ scan: false, columns: [{ column: 'items.code', type: 'code', style: 'redact' }] });

function errorFrame(fields: [string, string][], code: number = BACKEND.ErrorResponse): Buffer {
  const writer = new FieldWriter();
  for (const [type, value] of fields) writer.byte(type.charCodeAt(0)).cstring(value);
  return writer.byte(0).message(code);
}

/** The fields of an ErrorResponse frame, in order. */
function fieldsOf(frame: Buffer): [string, string][] {
  const fields: [string, string][] = [];
  let at = 5;
  while (frame[at] !== 0) {
    const end = frame.indexOf(0, at + 1);
    fields.push([String.fromCharCode(frame[at] as number), frame.toString('utf8', at + 1, end)]);
    at = end + 1;
  }
  assert.equal(frame.readInt32BE(1), frame.length - 1, 'the length word matches');
  return fields;
}

const EMAIL = 'mary.jones@example.com';

describe('error, notice and notification masking', () => {
  it('masks every field that can carry a value, keeps severity, SQLSTATE, positions and source location', () => {
    const fields: [string, string][] = [
      ['S', 'ERROR'],
      ['V', 'ERROR'],
      ['C', 'P0001'],
      ['M', `error ${EMAIL}`],
      ['D', `detail ${EMAIL}`],
      ['H', `hint ${EMAIL}`],
      ['W', `PL/pgSQL function f(text) line 3 at RAISE with ${EMAIL}`],
      ['q', `SELECT '${EMAIL}'`],
      ['P', '12'],
      ['F', 'pl_exec.c'],
      ['L', '3923'],
      ['R', 'exec_stmt_raise'],
      ['Z', `a field a later server adds: ${EMAIL}`],
    ];
    const frame = errorFrame(fields);
    const counts = new MaskCounts();
    const masked = maskErrorMessage(frame, frame.subarray(5), scanning, counts);
    const out = fieldsOf(masked.bytes);
    assert.deepEqual(
      out.map(([type]) => type),
      fields.map(([type]) => type),
      'every field kept, in order',
    );
    for (const [type, value] of out) {
      assert.ok(!value.includes(EMAIL), `field ${type} masked`);
      if ('SVCPFLR'.includes(type)) assert.equal(value, fields.find(([t]) => t === type)?.[1]);
    }
    assert.equal(masked.code, 'P0001');
    assert.equal(masked.message, 'error [EMAIL]');
    assert.deepEqual(counts.toRecord(), { email: 6 });
    // A notice is rebuilt as a notice.
    const notice = errorFrame(fields, BACKEND.NoticeResponse);
    assert.equal(
      maskErrorMessage(notice, notice.subarray(5), scanning, new MaskCounts()).bytes[0],
      BACKEND.NoticeResponse,
    );
  });

  it('keeps the bytes when nothing is found', () => {
    const frame = errorFrame([
      ['S', 'ERROR'],
      ['C', '42P01'],
      ['M', 'relation "nope" does not exist'],
    ]);
    assert.equal(maskErrorMessage(frame, frame.subarray(5), scanning, new MaskCounts()).bytes, frame);
    assert.equal(maskErrorMessage(frame, frame.subarray(5), rulesOnly, new MaskCounts()).bytes, frame);
  });

  it('under column rules, data and integrity errors withhold the values they quote, whatever the detectors say', () => {
    const data = errorFrame([
      ['S', 'ERROR'],
      ['C', '22P02'],
      ['M', 'invalid input syntax for type integer: "ZX81-QUIET-LAKE"'],
    ]);
    const masked = maskErrorMessage(data, data.subarray(5), rulesOnly, new MaskCounts());
    assert.equal(masked.message, 'invalid input syntax for type integer: "[WITHHELD]"');
    const integrity = errorFrame([
      ['S', 'ERROR'],
      ['C', '23505'],
      ['M', 'duplicate key value violates unique constraint "items_code_key"'],
      ['D', 'Key (code)=(ZX81-QUIET-LAKE) already exists.'],
    ]);
    const out = fieldsOf(maskErrorMessage(integrity, integrity.subarray(5), rulesOnly, new MaskCounts()).bytes);
    assert.equal(out.find(([t]) => t === 'D')?.[1], 'Key (code)=([WITHHELD]) already exists.');
    const failing = errorFrame([
      ['C', '23502'],
      ['D', 'Failing row contains (1, ZX81-QUIET-LAKE, null).'],
    ]);
    const row = fieldsOf(maskErrorMessage(failing, failing.subarray(5), rulesOnly, new MaskCounts()).bytes);
    assert.equal(row.find(([t]) => t === 'D')?.[1], 'Failing row contains ([WITHHELD]).');
    // Without column rules, only content scanning applies: a relation's name stays readable.
    const plain = errorFrame([
      ['C', '22P02'],
      ['M', 'invalid input syntax for type integer: "ZX81-QUIET-LAKE"'],
    ]);
    assert.equal(maskErrorMessage(plain, plain.subarray(5), scanning, new MaskCounts()).bytes, plain);
  });

  it('NOTIFY payloads: scanned; under column rules without scanning, withheld', () => {
    const frame = new FieldWriter()
      .int32(4242)
      .cstring('updates')
      .cstring(`new contact ${EMAIL}`)
      .message(BACKEND.NotificationResponse);
    const masked = maskNotification(frame, frame.subarray(5), scanning, new MaskCounts());
    assert.equal(masked.readInt32BE(5), 4242);
    assert.ok(masked.includes(Buffer.from('updates\0new contact [EMAIL]\0')));
    const withheld = maskNotification(frame, frame.subarray(5), rulesOnly, new MaskCounts());
    assert.ok(withheld.includes(Buffer.from('updates\0[WITHHELD]\0')));
    assert.ok(!withheld.includes(Buffer.from(EMAIL)));
  });
});
