import { renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AdminPool } from './admin-pool.js';
import type { AgentLogin } from './agent-login.js';
import { randomPassword, scramVerifier } from './scram-verifier.js';

/**
 * Changes the agent's own backend password and writes it back to its file. Open sessions are untouched (PostgreSQL
 * checks the password only at login); logins wait while it runs (AgentLogin's lock). The new password is written
 * to a side file first, so a crash or a lost answer after ALTER ROLE leaves it on disk for `settlePending`.
 */
export async function rotatePassword(admin: AdminPool, login: AgentLogin, logger: Logger): Promise<void> {
  const { passwordFile, pendingFile } = login;
  if (passwordFile === undefined || pendingFile === undefined) throw new Error('rotation needs target.passwordFile');
  const next = randomPassword();
  const verifier = scramVerifier(next);
  // Taken before the exclusive side: a new admin connection logs in under the shared side.
  const client = await admin.connect();
  let failure: unknown;
  try {
    await login.changing(async () => {
      writeFileSync(pendingFile, `${next}\n`, { mode: 0o600 });
      try {
        await client.query(`ALTER ROLE CURRENT_USER PASSWORD '${verifier}'`);
      } catch (error) {
        failure = error;
        return;
      }
      renameSync(pendingFile, passwordFile);
    });
  } finally {
    client.release(failure instanceof Error ? failure : undefined);
  }
  if (failure !== undefined) {
    // Whether the backend took the new password is unknown: keep the one that logs in.
    await login.settlePending(logger);
    throw failure;
  }
  logger.info('backend password rotated');
}
