import assert from 'node:assert/strict';

/** PostgreSQL DataRow frames for tests: values as bytes (text or binary as sent), null for NULL. */
export function encodeRow(values: readonly (Buffer | null)[]): Buffer {
  const parts = values.map((value) => {
    const length = Buffer.alloc(4);
    length.writeInt32BE(value === null ? -1 : value.length);
    return value === null ? length : Buffer.concat([length, value]);
  });
  const body = Buffer.concat([Buffer.from([0, values.length]), ...parts]);
  const header = Buffer.alloc(5);
  header[0] = 0x44;
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** The values of a DataRow frame, checking its lengths add up. */
export function decodeRow(frame: Buffer): (Buffer | null)[] {
  assert.equal(frame[0], 0x44);
  assert.equal(frame.readInt32BE(1), frame.length - 1, 'the message length matches the frame');
  const count = frame.readInt16BE(5);
  const values: (Buffer | null)[] = [];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const length = frame.readInt32BE(offset);
    offset += 4;
    values.push(length < 0 ? null : frame.subarray(offset, offset + length));
    offset += Math.max(0, length);
  }
  assert.equal(offset, frame.length, 'no bytes after the last value');
  return values;
}
