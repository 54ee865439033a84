import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { eventHash, GENESIS_HASH } from '../../src/store/hash-chain.js';

/** The documented definition: sha256 hex over the previous hash, then JSON.stringify of the fixed fields, then the payload. */
function reference(prevHash: string, id: number, sessionId: string, type: string, at: number, payloadJson: string) {
  const header = JSON.stringify([prevHash, id, sessionId, type, at]);
  return createHash('sha256')
    .update(header + payloadJson)
    .digest('hex');
}

describe('hash chain', () => {
  it('hashes exactly JSON.stringify of the fixed fields, whatever the strings hold', () => {
    // A verifier reads fields back from a file anyone may have edited: its header must be JSON.stringify's for any
    // string, escapes included, or an edit could pass as a different, valid chain.
    const strings = [
      'a1b2c3',
      '0b0d7a4e-5b3f-4c1e-9a3d-000000000001',
      'with "quotes"',
      'back\\slash',
      'line\nbreak',
      'tab\tand \u0001 control',
      '\u007f delete is not escaped',
      'é and 😀',
      'lone \ud800 high',
      'lone \udc00 low',
      '\u2028 line separator',
      '',
    ];
    let prev = GENESIS_HASH;
    strings.forEach((s, i) => {
      const payloadJson = JSON.stringify({ s });
      for (const [prevHash, sessionId, type] of [
        [prev, s, 'operation'],
        [s, 'session', 'operation'],
        [prev, 'session', s],
      ] as const) {
        const got = eventHash(prevHash, { id: i + 1, sessionId, type, at: 1_700_000_000_000 + i, payloadJson });
        assert.equal(got, reference(prevHash, i + 1, sessionId, type, 1_700_000_000_000 + i, payloadJson), s);
      }
      prev = eventHash(prev, { id: i + 1, sessionId: s, type: 'operation', at: i, payloadJson });
    });
  });

  it('writes numbers as JSON.stringify does', () => {
    for (const n of [0, 1, 2 ** 53 - 1, 1.5, -3]) {
      assert.equal(
        eventHash(GENESIS_HASH, { id: n, sessionId: 's', type: 't', at: n, payloadJson: '{}' }),
        reference(GENESIS_HASH, n, 's', 't', n, '{}'),
      );
    }
  });
});
