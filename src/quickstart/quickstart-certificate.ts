import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generate } from 'selfsigned';

export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

/** Renewed this long before it expires, so a quickstart left running for a while keeps a valid certificate. */
const RENEW_BEFORE_MS = 7 * 24 * 3_600_000;
const LIFETIME_MS = 365 * 24 * 3_600_000;

/**
 * Makes sure the quickstart's PostgreSQL listener has a certificate: a self-signed one for localhost and 127.0.0.1,
 * generated on first run (and when the existing one is near its end). Clients connect with `sslmode=require`, which
 * encrypts without checking the issuer; production configures a real certificate in `postgres.tls`.
 * Returns true when a new certificate was written.
 */
export async function ensureQuickstartCertificate(files: CertificateFiles, now = new Date()): Promise<boolean> {
  if (await isUsable(files, now)) return false;
  const notBeforeDate = new Date(now.getTime() - 60_000);
  const generated = await generate([{ name: 'commonName', value: 'gatehouse-quickstart' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(now.getTime() + LIFETIME_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await mkdir(dirname(files.key), { recursive: true });
  await mkdir(dirname(files.cert), { recursive: true });
  // The key first and private to its owner: a certificate without its key is never left behind.
  await writeFile(files.key, generated.private, { mode: 0o600 });
  await writeFile(files.cert, generated.cert);
  return true;
}

async function isUsable(files: CertificateFiles, now: Date): Promise<boolean> {
  try {
    const [cert] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key)]);
    const validTo = new Date(new X509Certificate(cert).validTo).getTime();
    return validTo - now.getTime() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}
