import type { AuditRecorder } from '../audit/recorder.js';
import type { Approver, Review, ReviewEvent } from './review.js';

/**
 * Writes review events to the audit log as `type: review` events on the requester's session, so a session's timeline
 * shows its operation, the review, who decided and whether it ran. Resolves once durable (the recorder fails closed).
 */
export function recordReviewEvent(
  recorder: AuditRecorder,
  review: Review,
  event: ReviewEvent,
  at: number,
  extra: { approver?: Approver; reason?: string } = {},
): Promise<void> {
  return recorder.record({
    sessionId: review.requester.sessionId,
    type: 'review',
    at,
    payload: {
      event,
      reviewId: review.id,
      kind: review.kind,
      state: review.state,
      resource: review.operation.resource,
      fingerprint: review.fingerprint,
      rule: review.cause.ruleId,
      ...(event === 'created'
        ? {
            requester: { issuer: review.requester.issuer, subject: review.requester.subject },
            tokenId: review.requester.tokenId,
            text: review.operation.text,
            approverGroups: review.approverGroups,
            approvalsRequired: review.approvalsRequired,
            expiresAt: review.expiresAt,
            ...(review.access === undefined ? {} : { access: review.access, requestReason: review.requestReason }),
          }
        : {}),
      ...(extra.approver === undefined
        ? {}
        : { approver: { issuer: extra.approver.issuer, subject: extra.approver.subject } }),
      ...(extra.reason === undefined ? {} : { reason: extra.reason }),
      approvals: review.decisions.filter((d) => d.verdict === 'approve').length,
      ...(review.validUntil === undefined ? {} : { validUntil: review.validUntil }),
    },
  });
}
