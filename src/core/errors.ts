/**
 * One error type for everything the gateway refuses or fails at. Codes are stable strings; each protocol renders
 * them in its own wire format (HTTP status + JSON, PostgreSQL SQLSTATE + ErrorResponse).
 */
export const ERROR_CODES = {
  'auth.missing_token': 'no bearer token was presented',
  'auth.invalid_token': 'the token was not accepted',
  'auth.tls_required': 'a token may only be sent over TLS',
  'policy.denied': 'policy denies this operation',
  'policy.review_required': 'this operation requires approval',
  'request.invalid': 'the request is malformed',
  'request.too_large': 'the request is too large',
  'request.not_found': 'no resource matches this request',
  'quota.exceeded': 'a token or request budget has no room for this call',
  'upstream.unavailable': 'the backend could not be reached',
  'upstream.timeout': 'the backend did not answer in time',
  'upstream.no_agent': 'no agent serving this resource is connected',
  'audit.unavailable': 'the operation could not be recorded, so it was not run',
  'config.invalid': 'the configuration is invalid',
  internal: 'internal gateway error',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable fields safe to show the caller (rule id, review id...). Never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? ERROR_CODES[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.details = options?.details ?? {};
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}
