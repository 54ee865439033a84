import { renameSync, rmSync, writeFileSync } from 'node:fs';
import type pg from 'pg';
import type { Logger } from 'pino';
import { randomPassword, scramVerifier } from './scram-verifier.js';

/**
 * Changes the agent's own backend password and writes it back to its file. Open sessions are untouched (PostgreSQL
 * checks the password only at login); new ones read the file. The new password is written to a side file first,
 * so a crash between ALTER ROLE and the rename leaves it on disk rather than lost.
 */
export async function rotatePassword(pool: pg.Pool, passwordFile: string, logger: Logger): Promise<void> {
  const next = randomPassword();
  const pending = `${passwordFile}.next`;
  writeFileSync(pending, `${next}\n`, { mode: 0o600 });
  try {
    await pool.query(`ALTER ROLE CURRENT_USER PASSWORD '${scramVerifier(next)}'`);
  } catch (error) {
    rmSync(pending, { force: true });
    throw error;
  }
  renameSync(pending, passwordFile);
  logger.info('backend password rotated');
}
