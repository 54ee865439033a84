import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { GatehouseError } from '../../../core/errors.js';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it for backend logins, without channel
 * binding. Written here with node:crypto because node-postgres keeps its SASL code internal (not an exported API)
 * and no small standalone SCRAM client is installed; the exchange is three messages.
 * https://www.postgresql.org/docs/current/sasl-authentication.html
 *
 * The password is not SASLprep-normalised: PostgreSQL itself falls back to the raw bytes when a password is not
 * valid for SASLprep, and configured backend passwords are expected to be ASCII.
 */
export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly clientFirstBare = `n=*,r=${this.clientNonce}`;
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly password: string) {}

  /** client-first-message, sent in SASLInitialResponse. */
  clientFirstMessage(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** Answers server-first-message (AuthenticationSASLContinue) with client-final-message (SASLResponse). */
  async clientFinalMessage(serverFirst: string): Promise<string> {
    const attributes = parseAttributes(serverFirst);
    const nonce = attributes.get('r');
    const salt = attributes.get('s');
    const iterations = Number(attributes.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw scramFailure('server nonce does not extend the client nonce');
    }
    if (salt === undefined || !Number.isInteger(iterations) || iterations < 1)
      throw scramFailure('malformed server-first-message');
    const saltedPassword = await pbkdf2Async(this.password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const clientFinalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (clientSignature[i] as number);
    this.expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    return `${clientFinalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks server-final-message (AuthenticationSASLFinal): the server must prove it knows the password too. */
  verifyServerFinal(serverFinal: string): void {
    const signature = parseAttributes(serverFinal).get('v');
    const expected = this.expectedServerSignature;
    if (signature === undefined || expected === undefined) throw scramFailure('malformed server-final-message');
    const actual = Buffer.from(signature, 'base64');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw scramFailure('server signature does not match');
    }
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) attributes.set(part.slice(0, 1), part.slice(2));
  }
  return attributes;
}

function scramFailure(reason: string): GatehouseError {
  return new GatehouseError('upstream.unavailable', 'the backend login failed', {
    details: { reason: `SCRAM: ${reason}` },
  });
}
