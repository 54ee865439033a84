import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.js';
import { CheckpointSigner } from './checkpoint.js';

/**
 * The checkpoint signing key when none is configured: read from `path`, or generated there (mode 0600) on first
 * start, so a gateway signs its chain by default. Kept outside the store, as the development issuer's key is:
 * whoever can write the store cannot forge signatures. Replicas starting together race to create it: the loser reads
 * the winner's file.
 */
export function loadOrCreateCheckpointKey(path: string, logger: Logger): CheckpointSigner {
  const existing = readKey(path);
  if (existing !== undefined) return CheckpointSigner.fromPem(existing, path);
  const { signer, privatePem } = CheckpointSigner.generate();
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, privatePem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return CheckpointSigner.fromPem(readKey(path) ?? '', path);
    throw new GatehouseError('config.invalid', `cannot write the audit checkpoint key to ${path}`, { cause: error });
  }
  logger.warn(
    { keyFile: path, keyId: signer.keyId },
    'AUDIT CHECKPOINT KEY GENERATED: no audit.checkpoints.signingKey is configured, so a new Ed25519 key was written ' +
      "to this file. Back it up and keep it off the store's machine; for several replicas configure one shared key " +
      '(gatehouse audit keygen) so every chain verifies with one public key',
  );
  return signer;
}

/** The key file's text, or undefined when there is none yet. */
export function readKey(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GatehouseError('config.invalid', `cannot read the audit checkpoint key ${path}`, { cause: error });
  }
}
