import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * A SCRAM-SHA-256 password verifier in PostgreSQL's stored format (RFC 5802/7677), made on the agent so that
 * CREATE/ALTER ROLE ... PASSWORD carries no plaintext password (statement logs on the server would keep it).
 * Hand-written: pg and pg-protocol only implement the client exchange, not the stored verifier.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A random password of URL-safe characters (no quoting surprises in files or connection strings). */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}
