import type { Review } from './review.js';
import { reviewUrl } from './review-notifier.js';

/**
 * The sentence a held caller is shown while it waits (PostgreSQL NoticeResponse, HTTP 202 body): the review id, who
 * may approve, and how. Holds nothing the caller did not send itself.
 */
export function approvalNotice(review: Review, publicUrl?: string): string {
  const approvals = review.approvalsRequired === 1 ? '1 approval' : `${review.approvalsRequired} approvals`;
  const where = publicUrl === undefined ? '' : ` or ${reviewUrl(publicUrl, review.id)}`;
  return (
    `gatehouse: review ${review.id} is waiting for ${approvals} from ${review.approverGroups.join(', ')} ` +
    `(${review.cause.ruleId}); an approver runs: gatehouse reviews approve ${review.id}${where}`
  );
}
