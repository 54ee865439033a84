import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serialize } from 'pg-protocol';
import { FrameReader } from '../../../../src/protocols/postgres/wire/frame-reader.js';
import {
  decodeFrontendMessage,
  decodeStartupPacket,
} from '../../../../src/protocols/postgres/wire/frontend-messages.js';
import { isWireError } from '../../../../src/protocols/postgres/wire/protocol-error.js';

/** Deterministic PRNG (mulberry32) so a failing iteration can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID: readonly Buffer[] = [
  serialize.query('select 1'),
  serialize.parse({ name: 's1', text: 'select $1::int', types: [23] }),
  serialize.bind({ portal: 'p', statement: 's1', values: ['1', null, Buffer.from([1, 2])] }),
  serialize.describe({ type: 'S', name: 's1' }),
  serialize.describe({ type: 'P', name: '' }),
  serialize.execute({ portal: 'p', rows: 10 }),
  serialize.close({ type: 'S', name: 's1' }),
  serialize.sync(),
  serialize.flush(),
  serialize.end(),
  serialize.copyData(Buffer.from('1\tone\n')),
  serialize.copyDone(),
  serialize.copyFail('stop'),
  serialize.password('token'),
];

function chunks(bytes: Buffer, next: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const size = 1 + Math.floor(next() * 16);
    out.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

describe('frontend message framing and decoding', () => {
  test('valid messages split at every byte decode to the right names and fields', () => {
    const stream = Buffer.concat(VALID);
    const reader = new FrameReader({ maxMessageBytes: 1024 });
    const types: string[] = [];
    for (const byte of stream) {
      reader.push(Buffer.of(byte));
      for (let frame = reader.next(); frame; frame = reader.next()) types.push(decodeFrontendMessage(frame).type);
    }
    assert.deepEqual(types, [
      'Query',
      'Parse',
      'Bind',
      'Describe',
      'Describe',
      'Execute',
      'Close',
      'Sync',
      'Flush',
      'Terminate',
      'CopyData',
      'CopyDone',
      'CopyFail',
      'PasswordMessage',
    ]);
    const reread = new FrameReader({ maxMessageBytes: 1024 });
    reread.push(VALID[2] as Buffer);
    assert.deepEqual(decodeFrontendMessage(reread.next()!), {
      type: 'Bind',
      portal: 'p',
      statement: 's1',
      parameterCount: 3,
    });
  });

  test('chunks of several messages and pieces of messages give back each message whole, and drain the rest', () => {
    const next = random(0xf4a3);
    for (let round = 0; round < 200; round++) {
      const messages = Array.from({ length: 1 + Math.floor(next() * 30) }, () => {
        const message = VALID[Math.floor(next() * VALID.length)] as Buffer;
        return next() < 0.2 ? serialize.copyData(Buffer.alloc(Math.floor(next() * 300), 'x')) : message;
      });
      const stream = Buffer.concat(messages);
      const reader = new FrameReader({ maxMessageBytes: 4096 });
      const frames: Buffer[] = [];
      // Chunks of up to 120 bytes: many messages in one, and messages across several.
      for (let offset = 0; offset < stream.length; ) {
        const size = 1 + Math.floor(next() * 120);
        reader.push(stream.subarray(offset, offset + size));
        offset += size;
        for (let frame = reader.next(); frame; frame = reader.next()) {
          assert.equal(frame.code, frame.bytes[0]);
          assert.deepEqual(frame.body, frame.bytes.subarray(5));
          frames.push(Buffer.from(frame.bytes));
        }
        assert.equal(reader.buffered, Math.min(offset, stream.length) - frames.reduce((n, f) => n + f.length, 0));
      }
      assert.deepEqual(frames, messages);
    }
    // What is left after some messages is drained whole.
    const reader = new FrameReader({ maxMessageBytes: 4096 });
    const stream = Buffer.concat(VALID);
    reader.push(stream.subarray(0, 20));
    reader.push(stream.subarray(20));
    assert.deepEqual(reader.next()?.bytes, VALID[0]);
    assert.deepEqual(reader.drain(), stream.subarray((VALID[0] as Buffer).length));
    assert.equal(reader.buffered, 0);
    assert.equal(reader.next(), undefined);
  });

  test('startup packets: StartupMessage parameters, SSLRequest, CancelRequest', () => {
    const reader = new FrameReader({ maxMessageBytes: 1024 });
    reader.push(serialize.startup({ user: 'agent', database: 'app' }));
    reader.push(serialize.requestSsl());
    reader.push(serialize.cancel(42, 7));
    const startup = decodeStartupPacket(reader.nextStartup()!);
    assert.equal(startup.type, 'StartupMessage');
    assert.deepEqual(startup.type === 'StartupMessage' && { ...startup.parameters }, {
      user: 'agent',
      database: 'app',
      client_encoding: 'UTF8',
    });
    assert.equal(decodeStartupPacket(reader.nextStartup()!).type, 'SSLRequest');
    const cancel = decodeStartupPacket(reader.nextStartup()!);
    assert.equal(cancel.type === 'CancelRequest' && cancel.processId, 42);
  });

  test('lengths: below the minimum is 08P01, above the maximum is 54000', () => {
    const tooShort = new FrameReader({ maxMessageBytes: 1024 });
    tooShort.push(Buffer.from([0x51, 0, 0, 0, 3]));
    assert.throws(
      () => tooShort.next(),
      (e: unknown) => isWireError(e) && e.code === 'request.invalid',
    );
    const tooLong = new FrameReader({ maxMessageBytes: 1024 });
    tooLong.push(Buffer.from([0x51, 0, 0, 4, 1]));
    assert.throws(
      () => tooLong.next(),
      (e: unknown) => isWireError(e) && e.code === 'request.too_large',
    );
    const startup = new FrameReader({ maxMessageBytes: 1024 });
    startup.push(Buffer.from([0, 0, 0, 4]));
    assert.throws(
      () => startup.nextStartup(),
      (e: unknown) => isWireError(e) && e.code === 'request.invalid',
    );
  });

  test('fuzz: random and mutated messages only ever raise the protocol error type', () => {
    const next = random(0x5eed);
    const int = (n: number) => Math.floor(next() * n);
    let decoded = 0;
    let rejected = 0;
    for (let iteration = 0; iteration < 5000; iteration++) {
      let bytes: Buffer;
      const mode = int(4);
      if (mode === 0) {
        bytes = Buffer.from(Array.from({ length: int(64) }, () => int(256)));
      } else {
        bytes = Buffer.from(
          Buffer.concat(Array.from({ length: 1 + int(4) }, () => VALID[int(VALID.length)] as Buffer)),
        );
        for (let flips = 1 + int(4); flips > 0 && bytes.length > 0; flips--) bytes[int(bytes.length)] = int(256);
        if (mode === 2) bytes = bytes.subarray(0, int(bytes.length + 1));
        if (mode === 3 && bytes.length > 5) bytes.writeInt32BE(int(2 ** 31) - 2 ** 30, 1 + int(bytes.length - 5));
      }
      const startup = iteration % 5 === 0;
      const reader = new FrameReader({ maxMessageBytes: 4096 });
      try {
        for (const chunk of chunks(bytes, next)) {
          reader.push(chunk);
          if (startup) {
            const packet = reader.nextStartup();
            if (packet) decodeStartupPacket(packet);
          } else {
            for (let frame = reader.next(); frame; frame = reader.next()) {
              decodeFrontendMessage(frame);
              decoded++;
            }
          }
        }
      } catch (error) {
        if (!isWireError(error)) assert.fail(`iteration ${iteration}: unexpected ${String(error)}`);
        rejected++;
      }
    }
    assert.ok(decoded > 100 && rejected > 100, `decoded ${decoded}, rejected ${rejected}`);
  });
});
