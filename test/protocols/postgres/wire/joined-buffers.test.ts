import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinedBuffers } from '../../../../src/protocols/postgres/wire/joined-buffers.js';

describe('joinedBuffers', () => {
  const read = Buffer.from('1\0\0\0\x042\0\0\0\x04C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I');
  const frames = [read.subarray(0, 5), read.subarray(5, 10), read.subarray(10, 24), read.subarray(24)];

  it('joins consecutive views of one read as one view of it, without copying', () => {
    const joined = joinedBuffers(frames);
    assert.deepEqual(joined, read);
    assert.equal(joined.buffer, read.buffer);
    assert.equal(joined.byteOffset, read.byteOffset);
  });

  it('copies what is not consecutive in one memory block, in the order given', () => {
    const reordered = [frames[1], frames[0]] as Buffer[];
    assert.deepEqual(joinedBuffers(reordered), Buffer.concat(reordered));
    const gap = [frames[0], frames[2]] as Buffer[];
    assert.deepEqual(joinedBuffers(gap), Buffer.concat(gap));
    const own = Buffer.from('E\0\0\0\x04');
    const mixed = [frames[0], own, frames[1]] as Buffer[];
    const joined = joinedBuffers(mixed, 15);
    assert.deepEqual(joined, Buffer.concat(mixed));
    // A copy: changing the read afterwards does not change what is written.
    const before = Buffer.from(joined);
    read[0] = 0x58;
    assert.deepEqual(joined, before);
    read[0] = 0x31;
  });

  it('returns a lone buffer as it is, and nothing as an empty buffer', () => {
    assert.equal(joinedBuffers([frames[0] as Buffer]), frames[0]);
    assert.equal(joinedBuffers([]).length, 0);
  });
});
