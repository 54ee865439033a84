import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AuditConfig } from '../config/schema.js';
import { GatehouseError } from '../core/errors.js';
import type { ForensicCopy, Store } from '../store/store.js';

/**
 * The optional forensic copy: an operation's unmasked response, sealed with AES-256-GCM under a key that only the
 * gateway and the auditors' CLI hold (from a secret reference), so the store alone never reveals it. The session id
 * and operation seq are bound in as associated data: a copy moved to another operation does not open.
 */
export class ForensicVault {
  private constructor(
    private readonly key: Buffer,
    readonly auditorGroups: readonly string[],
  ) {}

  /** The vault when forensic copies are enabled, otherwise undefined. */
  static fromConfig(config: AuditConfig['forensic']): ForensicVault | undefined {
    if (!config.enabled || config.key === undefined) return undefined;
    return new ForensicVault(parseKey(config.key), config.auditorGroups);
  }

  /** For the CLI: the key is needed to read even when the gateway has stopped writing new copies. */
  static forReading(config: AuditConfig['forensic']): ForensicVault {
    if (config.key === undefined) {
      throw new GatehouseError('config.invalid', 'audit.forensic.key is not configured: no forensic copy can be read');
    }
    return new ForensicVault(parseKey(config.key), config.auditorGroups);
  }

  seal(sessionId: string, seq: number, at: number, content: unknown): ForensicCopy {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(associatedData(sessionId, seq));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
    return {
      sessionId,
      seq,
      at,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  }

  open(copy: ForensicCopy): unknown {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(copy.iv, 'base64'));
      decipher.setAAD(associatedData(copy.sessionId, copy.seq));
      decipher.setAuthTag(Buffer.from(copy.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(copy.ciphertext, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch (error) {
      throw new GatehouseError(
        'internal',
        `forensic copy of operation #${copy.seq} does not open: wrong key, or the copy was altered`,
        { cause: error },
      );
    }
  }

  async put(store: Store, copy: ForensicCopy): Promise<void> {
    await store.putForensicCopy(copy);
  }

  mayRead(groups: readonly string[]): boolean {
    return groups.some((g) => this.auditorGroups.includes(g));
  }
}

function associatedData(sessionId: string, seq: number): Buffer {
  return Buffer.from(`gatehouse-forensic-v1\u0000${sessionId}\u0000${seq}`, 'utf8');
}

/** 32 bytes as 64 hex digits or base64. */
function parseKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) {
    throw new GatehouseError('config.invalid', 'audit.forensic.key must be 32 bytes, as 64 hex digits or base64');
  }
  return key;
}
