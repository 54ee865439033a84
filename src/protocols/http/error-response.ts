import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode, GatehouseError } from '../../core/errors.js';
import { type QuotaRefusal, quotaRefusalBody } from '../../quotas/quotas.js';

/** HTTP status per error code: how the gateway's refusals and failures look on the HTTP path. */
const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.assign(Object.create(null), {
  'auth.missing_token': 401,
  'auth.invalid_token': 401,
  'auth.tls_required': 403,
  'policy.denied': 403,
  'policy.review_required': 403,
  'request.invalid': 400,
  'request.too_large': 413,
  'request.not_found': 404,
  'quota.exceeded': 429,
  'upstream.unavailable': 502,
  'upstream.timeout': 504,
  'upstream.no_agent': 503,
  'audit.unavailable': 503,
  'config.invalid': 500,
  internal: 500,
});

/** Fields safe to show callers; anything else in `details` (e.g. why a token failed) stays in logs. */
const PUBLIC_DETAILS = new Set(['rule', 'reason', 'selector', 'resource', 'reviewId']);

export function errorStatus(error: GatehouseError): number {
  return STATUS_BY_CODE[error.code] ?? 500;
}

/** Renders a GatehouseError as a JSON body in the OpenAI error shape, which SDKs surface as-is. */
export function sendError(res: ServerResponse, error: unknown): void {
  const failure = error instanceof GatehouseError ? error : new GatehouseError('internal');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = errorStatus(failure);
  const isAuth = failure.code.startsWith('auth.');
  const details: Record<string, unknown> = {};
  if (!isAuth)
    for (const [key, value] of Object.entries(failure.details)) if (PUBLIC_DETAILS.has(key)) details[key] = value;
  const body = JSON.stringify({
    error: {
      type: 'gatehouse_error',
      code: failure.code,
      // Authentication failures never say why: that would help an attacker tune a forged token.
      message: isAuth ? ERROR_CODES[failure.code] : failure.message,
      ...details,
    },
  });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="gatehouse"';
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * The 429 a budget refusal gets: `quotaRefusalBody`'s JSON (budget, unit, limit, used, in flight, requested, reset
 * time) in the same error envelope as other refusals, with `retry-after` in seconds until the window resets.
 */
export function sendQuotaRefusal(res: ServerResponse, refusal: QuotaRefusal, now: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { body, retryAfterSeconds } = quotaRefusalBody(refusal, now);
  const text = JSON.stringify(body);
  res.writeHead(errorStatus(new GatehouseError('quota.exceeded')), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'retry-after': String(retryAfterSeconds),
  });
  res.end(text);
}
