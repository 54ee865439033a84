import type { Decision } from '../../../core/decision.js';
import { type ErrorCode, GatehouseError, isGatehouseError } from '../../../core/errors.js';
import type { ErrorFields } from './backend-messages.js';

/**
 * GatehouseError codes as SQLSTATEs, so clients and drivers react as they would to the server itself.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const SQLSTATE: Readonly<Record<ErrorCode, string>> = Object.assign(Object.create(null), {
  'auth.missing_token': '28000', // invalid_authorization_specification
  'auth.invalid_token': '28P01', // invalid_password
  'auth.tls_required': '28000',
  'policy.denied': '42501', // insufficient_privilege
  'policy.review_required': '42501',
  'request.invalid': '08P01', // protocol_violation
  'request.too_large': '54000', // program_limit_exceeded
  'request.not_found': '3D000', // invalid_catalog_name
  'quota.exceeded': '53400', // configuration_limit_exceeded
  'upstream.unavailable': '08006', // connection_failure
  'upstream.timeout': '08006',
  'upstream.no_agent': '57P03', // cannot_connect_now: retry once an agent is back
  // cannot_connect_now: the store is down or refuses writes; drivers and poolers treat it as retryable later.
  'audit.unavailable': '57P03',
  'config.invalid': 'XX000',
  internal: 'XX000', // internal_error
} satisfies Record<ErrorCode, string>);

/** SQLSTATEs the gateway raises for its own session events, beyond the error table. */
export const SESSION_SQLSTATE = {
  adminShutdown: '57P01',
  connectionFailure: '08006',
  featureNotSupported: '0A000',
  tokenExpired: '28000',
} as const;

/** Messages that never vary with the cause, so a failed login reveals nothing about why. */
const FIXED_MESSAGE: Partial<Record<ErrorCode, string>> = {
  'auth.missing_token': 'an access token is required as the password',
  'auth.invalid_token': 'password authentication failed: the access token was not accepted',
  'upstream.unavailable': 'the gateway could not open a session on the backend',
  'upstream.timeout': 'the gateway could not open a session on the backend in time',
  'upstream.no_agent': 'no agent serving this resource is connected to the gateway',
  'config.invalid': 'internal gateway error',
  internal: 'internal gateway error',
};

/**
 * Renders any failure as ErrorResponse fields. Only a GatehouseError's own message, its rule reference and a hint
 * the gateway wrote reach the caller; `details.reason`, causes and foreign errors (which may hold backend credentials or token claims) never do.
 */
export function errorFieldsFor(error: unknown, severity: ErrorFields['severity'] = 'ERROR'): ErrorFields {
  if (!isGatehouseError(error)) return { severity, code: SQLSTATE.internal, message: FIXED_MESSAGE.internal as string };
  const rule = typeof error.details['rule'] === 'string' ? error.details['rule'] : undefined;
  const sqlstate = error.details['sqlstate'];
  // A hint the gateway wrote for the caller (approval outcomes); never derived from the cause.
  const hint =
    typeof error.details['hint'] === 'string'
      ? error.details['hint']
      : error.code === 'policy.review_required'
        ? 'An approver must allow this statement (gatehouse reviews approve ID); send it again to open a new review.'
        : undefined;
  return {
    severity,
    // A caller may pin a more precise SQLSTATE (0A000 for an unsupported protocol version, 3D000 vs 28000...).
    code: typeof sqlstate === 'string' && /^[0-9A-Z]{5}$/.test(sqlstate) ? sqlstate : SQLSTATE[error.code],
    message: FIXED_MESSAGE[error.code] ?? error.message,
    ...(rule === undefined ? {} : { detail: `gatehouse rule: ${rule}` }),
    ...(hint === undefined ? {} : { hint }),
  };
}

/** The refusal a non-allow decision produces: it names the rule that decided. */
export function refusalFor(decision: Decision, action: string): GatehouseError {
  const review = decision.verdict === 'review';
  const message = review
    ? `gatehouse: ${action} requires approval: ${decision.message}`
    : `gatehouse: permission denied for ${action}: ${decision.message}`;
  return new GatehouseError(review ? 'policy.review_required' : 'policy.denied', message, {
    details: { rule: decision.rule.id, selector: decision.rule.selector, reason: decision.reason },
  });
}

/** A session-level failure with a SQLSTATE outside the error table (shutdown, lost backend, expired token). */
export function sessionFatal(code: string, message: string): ErrorFields {
  return { severity: 'FATAL', code, message };
}
