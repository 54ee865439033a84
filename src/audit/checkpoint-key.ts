import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // Written whole to a file of its own, then linked into place (which fails if the key exists): a replica that loses
  // the race never reads the winner's file half-written, as it could when the file was created and then filled.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temporary, privatePem, { mode: 0o600, flag: 'wx' });
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return CheckpointSigner.fromPem(readKey(path) ?? '', path);
    throw new GatehouseError('config.invalid', `cannot write the audit checkpoint key to ${path}`, { cause: error });
  } finally {
    rmSync(temporary, { force: true });
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
