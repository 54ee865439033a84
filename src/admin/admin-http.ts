import type { IncomingMessage, ServerResponse } from 'node:http';
import { REVIEW_REFUSALS, reviewRefusalOf } from '../approvals/review-errors.js';
import { ERROR_CODES, type ErrorCode, GatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { TokenVerifier } from '../identity/verifier.js';

/** HTTP status per error code on the admin API; review refusals carry their own (409 for settled reviews...). */
const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = Object.assign(Object.create(null), {
  'auth.missing_token': 401,
  'auth.invalid_token': 401,
  'auth.tls_required': 403,
  'policy.denied': 403,
  'policy.review_required': 409,
  'request.invalid': 400,
  'request.too_large': 413,
  'request.not_found': 404,
  'audit.unavailable': 503,
});

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * JSON errors: `{ error: { code, message, review?, reviewId? } }`. Authentication failures never say why; other
 * non-Gatehouse failures are `internal` with no detail.
 */
export function sendAdminError(res: ServerResponse, error: unknown): void {
  const failure = error instanceof GatehouseError ? error : new GatehouseError('internal');
  const refusal = reviewRefusalOf(failure);
  const status = refusal !== undefined ? REVIEW_REFUSALS[refusal].status : (STATUS_BY_CODE[failure.code] ?? 500);
  const isAuth = failure.code.startsWith('auth.');
  const reviewId = failure.details.reviewId;
  sendJson(
    res,
    status,
    {
      error: {
        code: failure.code,
        // Review refusals (including a bad webhook signature) carry fixed messages that reveal nothing of tokens.
        message:
          (isAuth && refusal === undefined) || failure.code === 'internal'
            ? ERROR_CODES[failure.code]
            : failure.message,
        ...(refusal === undefined ? {} : { review: refusal }),
        ...(typeof reviewId === 'string' ? { reviewId } : {}),
      },
    },
    status === 401 ? { 'www-authenticate': 'Bearer realm="gatehouse-admin"' } : {},
  );
}

/** Reads a request body as text, refusing more than `limit` bytes. */
export async function readText(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new GatehouseError('request.too_large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new GatehouseError('request.too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** Parses a JSON object body; requires `content-type: application/json` (keeps HTML forms from posting here). */
export function parseJsonObject(req: IncomingMessage, text: string): Record<string, unknown> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (type !== 'application/json') {
    throw new GatehouseError('request.invalid', 'send a JSON body with content-type: application/json');
  }
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatehouseError('request.invalid', 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatehouseError('request.invalid', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new GatehouseError('request.invalid', `"${name}" must be a string`);
  return value;
}

/** The approver behind an admin API call: its bearer token, verified as every caller's is. */
export async function bearerIdentity(req: IncomingMessage, verifier: TokenVerifier): Promise<Identity> {
  const header = req.headers.authorization;
  if (header === undefined) throw new GatehouseError('auth.missing_token');
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
  if (match === null) throw new GatehouseError('auth.invalid_token');
  return verifier.verify(match[1] as string);
}
