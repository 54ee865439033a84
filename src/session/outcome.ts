import type { Decision } from '../core/decision.js';
import type { ErrorCode } from '../core/errors.js';
import type { Metrics, RequestOutcome } from '../core/metrics.js';
import type { ProtocolName } from '../core/operation.js';

/** What became of an operation, as its record says: it ran (`ok`, `error`) or the gateway did not run it. */
export type RecordedOutcome = 'ok' | 'error' | 'refused';

/**
 * A refusal's metric outcome by its error code, for the codes that say it outright: a budget or a result limit is a
 * denial whatever the verdict was, and a refusal for a malformed request or an unrecordable operation is an error.
 */
const REFUSAL_OUTCOMES: Readonly<Record<string, RequestOutcome>> = Object.assign(Object.create(null), {
  'policy.denied': 'denied',
  'quota.exceeded': 'denied',
  'result-limit': 'denied',
  'policy.review_required': 'review',
  'request.invalid': 'error',
  'request.too_large': 'error',
  'request.not_found': 'error',
  'upstream.unavailable': 'error',
  'upstream.timeout': 'error',
  'upstream.no_agent': 'error',
  'audit.unavailable': 'error',
  internal: 'error',
} satisfies Partial<Record<ErrorCode | 'result-limit', RequestOutcome>>);

/**
 * The `outcome` label an operation's result is counted under, the same on every protocol (see `RequestOutcome`).
 * A refusal with no telling code (a policy denial, a review still pending or turned down) is counted by its verdict.
 */
export function requestOutcome(
  result: { readonly outcome: RecordedOutcome; readonly error?: string },
  decision: Pick<Decision, 'verdict'>,
): RequestOutcome {
  if (result.outcome !== 'refused') return result.outcome;
  const byCode = result.error === undefined ? undefined : REFUSAL_OUTCOMES[result.error];
  if (byCode !== undefined) return byCode;
  return decision.verdict === 'review' ? 'review' : 'denied';
}

/**
 * Counts a request that ended before any operation was recorded for it: a rejected credential (also counted as an
 * auth failure), or a request that could not be routed, read or recorded. Once an operation is open, its handle's
 * `finish` counts it instead, so nothing is counted twice.
 */
export function countUnrecorded(
  metrics: Metrics,
  protocol: ProtocolName,
  resource: string,
  outcome: 'unauthenticated' | 'error',
): void {
  if (outcome === 'unauthenticated') metrics.countAuthFailure(protocol);
  metrics.countRequest(protocol, resource, outcome);
}
