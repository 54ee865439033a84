import type { Review } from './review.js';

/**
 * How a wait for a decision ended. Only `approved` lets the caller run the operation, and only after
 * `ApprovalService.markExecuted(review.id)` succeeded (that claim makes it run once). Every other status is a refusal
 * whose `message` is safe to show the caller.
 */
export type ApprovalOutcome =
  | { readonly status: 'approved'; readonly review: Review; readonly message: string }
  | { readonly status: 'denied'; readonly review: Review; readonly reason?: string; readonly message: string }
  /** No decision before the review expired (or before the held caller's wait ended, which expires it). */
  | { readonly status: 'expired'; readonly review: Review; readonly message: string }
  /** The caller gave up (signal aborted: PostgreSQL cancel, client disconnect): the review is withdrawn. */
  | { readonly status: 'withdrawn'; readonly review: Review; readonly message: string }
  /** The approval was already used by another request (a re-sent HTTP request): it runs once only. */
  | { readonly status: 'executed'; readonly review: Review; readonly message: string }
  /**
   * Still undecided when the wait ended (`onTimeout: 'pending'`, the HTTP path) or when the gateway began stopping
   * (`why: 'stopping'`): the review stays decidable; the caller answers 202 with the review id.
   */
  | {
      readonly status: 'pending';
      readonly review: Review;
      readonly why: 'wait-ended' | 'stopping';
      readonly message: string;
    };

export function outcomeOf(review: Review): ApprovalOutcome | undefined {
  switch (review.state) {
    case 'pending':
      return undefined;
    case 'approved':
      return { status: 'approved', review, message: `review ${review.id} was approved` };
    case 'denied': {
      const reason = [...review.decisions].reverse().find((d) => d.verdict === 'deny')?.reason;
      return {
        status: 'denied',
        review,
        ...(reason === undefined ? {} : { reason }),
        message: `review ${review.id} was denied${reason === undefined ? '' : `: ${reason}`}; the operation was not run`,
      };
    }
    case 'expired':
      return {
        status: 'expired',
        review,
        message: `review ${review.id} expired without a decision; the operation was not run`,
      };
    case 'withdrawn':
      return { status: 'withdrawn', review, message: `review ${review.id} was withdrawn; the operation was not run` };
    case 'executed':
      return {
        status: 'executed',
        review,
        message: `the approval of review ${review.id} was already used: an approved operation runs once`,
      };
  }
}

export function pendingOutcome(review: Review, why: 'wait-ended' | 'stopping'): ApprovalOutcome {
  return {
    status: 'pending',
    review,
    why,
    message:
      why === 'stopping'
        ? `the gateway is stopping; review ${review.id} stays pending: send the request again once it is approved`
        : `review ${review.id} is waiting for approval; send the same request again once it is approved`,
  };
}
