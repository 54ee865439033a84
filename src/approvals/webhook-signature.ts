import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names shared by outbound notifications and inbound decisions. */
export const TIMESTAMP_HEADER = 'x-gatehouse-timestamp';
export const SIGNATURE_HEADER = 'x-gatehouse-signature';

/**
 * HMAC-SHA256 over `${timestamp}.${body}` (timestamp in whole Unix seconds), sent as `v1=<hex>`: the receiver checks
 * the timestamp is recent and recomputes the signature over the exact bytes it received. Hand-written because it is
 * a dozen lines over node:crypto; the format follows the common Stripe/Slack scheme so receivers know it.
 */
export function signPayload(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
  return `v1=${mac}`;
}

export function signatureHeaders(secret: string, nowMs: number, body: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signPayload(secret, timestamp, body) };
}

export type SignatureCheck =
  | { readonly ok: true; readonly signature: string }
  | { readonly ok: false; readonly why: 'missing' | 'stale' | 'mismatch' };

/** Verifies a signed request: timestamp within `toleranceMs` of now, signature equal in constant time. */
export function verifySignature(
  secret: string,
  headers: { timestamp?: string | undefined; signature?: string | undefined },
  body: string,
  nowMs: number,
  toleranceMs: number,
): SignatureCheck {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, why: 'missing' };
  }
  const seconds = Number(timestamp);
  if (Math.abs(nowMs - seconds * 1000) > toleranceMs) return { ok: false, why: 'stale' };
  const expected = Buffer.from(signPayload(secret, seconds, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, why: 'mismatch' };
  return { ok: true, signature };
}
