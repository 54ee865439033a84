import { type ErrorCode, GatehouseError } from '../core/errors.js';

/**
 * Why a review operation was refused: a stable sub-code carried in `details.review`, next to the closest general
 * code (core's ERROR_CODES has no review codes yet). The admin API maps these to HTTP statuses.
 */
export const REVIEW_REFUSALS = {
  unknown: { code: 'request.not_found', status: 404 },
  expired: { code: 'request.invalid', status: 409 },
  'already-decided': { code: 'request.invalid', status: 409 },
  'self-approval': { code: 'policy.denied', status: 403 },
  'not-approver': { code: 'policy.denied', status: 403 },
  'not-requestable': { code: 'policy.denied', status: 403 },
  'not-approved': { code: 'policy.review_required', status: 409 },
  'no-approvers': { code: 'policy.review_required', status: 403 },
  invalid: { code: 'request.invalid', status: 400 },
  /** Inbound decision webhook: signature or timestamp not accepted (never says which). */
  'bad-signature': { code: 'auth.invalid_token', status: 401 },
  /** Inbound decision webhook: this exact signed request was already received. */
  replayed: { code: 'request.invalid', status: 409 },
} as const satisfies Record<string, { code: ErrorCode; status: number }>;
export type ReviewRefusal = keyof typeof REVIEW_REFUSALS;

export function reviewError(refusal: ReviewRefusal, message: string, reviewId?: string): GatehouseError {
  return new GatehouseError(REVIEW_REFUSALS[refusal].code, message, {
    details: { review: refusal, ...(reviewId === undefined ? {} : { reviewId }) },
  });
}

export function reviewRefusalOf(error: GatehouseError): ReviewRefusal | undefined {
  const refusal = error.details.review;
  return typeof refusal === 'string' && Object.hasOwn(REVIEW_REFUSALS, refusal)
    ? (refusal as ReviewRefusal)
    : undefined;
}
