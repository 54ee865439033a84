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

/**
 * A response that could not be masked: it is withheld (fail closed), never relayed raw. One type for every protocol,
 * so an error path tells it apart from a backend or upstream failure; callers see an internal error. `reason` says
 * what could not be masked (no data values), `cause` the underlying error, for logs.
 */
export class MaskingFailure extends GatehouseError {
  constructor(reason: string, options: { message?: string; cause?: unknown } = {}) {
    super('internal', options.message ?? 'gatehouse: the result could not be masked, so it was withheld', {
      cause: options.cause,
      details: { reason },
    });
    this.name = 'MaskingFailure';
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}
