import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { GatehouseError } from '../core/errors.js';
import { DEFAULT_CHAIN } from '../store/hash-chain.js';
import type { SignedCheckpoint } from '../store/store.js';

/** What a checkpoint states before it is signed. */
export interface CheckpointStatement {
  /** The chain signed (a gateway instance's). */
  readonly chain: string;
  /** The position in that chain of the event signed. */
  readonly eventId: number;
  readonly hash: string;
  readonly at: number;
  readonly reason: string;
}

/**
 * The exact bytes signed: a versioned JSON array, so no field can run into the next. v2 names the chain; the default
 * chain keeps v1 (no chain), so checkpoints signed before chains were per instance still verify.
 */
export function checkpointMessage(c: CheckpointStatement): Buffer {
  const fields =
    c.chain === DEFAULT_CHAIN
      ? ['gatehouse-checkpoint-v1', c.eventId, c.hash, c.at, c.reason]
      : ['gatehouse-checkpoint-v2', c.chain, c.eventId, c.hash, c.at, c.reason];
  return Buffer.from(JSON.stringify(fields), 'utf8');
}

/** First 16 hex digits of the sha256 of the public key's SPKI DER: names the key without revealing anything. */
function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** Signs checkpoints with the gateway's Ed25519 private key, which lives outside the store (file or secret). */
export class CheckpointSigner {
  readonly keyId: string;
  readonly publicKey: KeyObject;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(this.publicKey);
  }

  /** From a PKCS#8 PEM. The error names the setting, never the key material. */
  static fromPem(pem: string, setting = 'audit.checkpoints.signingKey'): CheckpointSigner {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new GatehouseError('config.invalid', `${setting} is not a PEM private key`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new GatehouseError('config.invalid', `${setting} must be an Ed25519 key (gatehouse audit keygen)`);
    }
    return new CheckpointSigner(key);
  }

  sign(statement: CheckpointStatement): SignedCheckpoint {
    const signature = sign(null, checkpointMessage(statement), this.privateKey).toString('base64');
    return { ...statement, keyId: this.keyId, signature };
  }

  /** The private key as PKCS#8 PEM (to write a generated key to its file). */
  static generate(): { signer: CheckpointSigner; privatePem: string } {
    const { privateKey } = generateKeyPairSync('ed25519');
    return {
      signer: new CheckpointSigner(privateKey),
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }
}

/** Public keys by key id, for verification. */
export type PublicKeyRing = ReadonlyMap<string, KeyObject>;

export function publicKeyFromPem(pem: string, setting: string): KeyObject {
  let key: KeyObject;
  try {
    // A private key PEM is accepted too: its public half is derived.
    key = createPublicKey(pem);
  } catch {
    throw new GatehouseError('config.invalid', `${setting} is not a PEM Ed25519 public key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new GatehouseError('config.invalid', `${setting} must be Ed25519`);
  return key;
}

export function keyRing(keys: readonly KeyObject[]): PublicKeyRing {
  return new Map(keys.map((k) => [keyIdOf(k), k]));
}

export type CheckpointCheck = 'valid' | 'unknown-key' | 'bad-signature';

export function checkCheckpoint(c: SignedCheckpoint, ring: PublicKeyRing): CheckpointCheck {
  const key = ring.get(c.keyId);
  if (!key) return 'unknown-key';
  let ok = false;
  try {
    ok = verify(null, checkpointMessage(c), key, Buffer.from(c.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? 'valid' : 'bad-signature';
}

/** A fresh key pair as PEM text, for `gatehouse audit keygen`. */
export function generateCheckpointKeys(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}
