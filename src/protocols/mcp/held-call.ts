import { approvalNotice } from '../../approvals/approval-notice.js';
import type { ApprovalService } from '../../approvals/approval-service.js';
import { isGatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { Operation } from '../../core/operation.js';
import type { OperationHandle } from '../../session/session.js';
import { canonicalJson } from './canonical-json.js';
import type { ClassifiedCall } from './classify.js';
import type { ServerProgress } from './connector.js';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';

/**
 * Progress notifications to the caller, when it asked for them: the gateway's own while a call is held for review,
 * then the server's while the call runs.
 */
export interface ProgressSink {
  notify(message: string): void;
  /** The server's progress, already masked; dropped unless it grows (the caller sees progress only increase). */
  relay(progress: ServerProgress): void;
}

export interface HeldCallContext {
  readonly approvals: ApprovalService;
  readonly publicUrl: string | undefined;
  readonly identity: Identity;
  readonly sessionId: string;
  readonly handle: OperationHandle;
  readonly call: ClassifiedCall;
  /** The operation as recorded (its text masked). */
  readonly operation: Operation;
  /** Present when the caller sent a progressToken and accepts a stream: the call is then held longer. */
  readonly progress?: ProgressSink;
  readonly signal: AbortSignal;
  readonly maskExcerpt?: (text: string) => string;
}

/** How often a held call with a progress token tells the caller it still waits. */
const PROGRESS_EVERY_MS = 1_000;

/**
 * A `review` decision on an MCP call, with the same reviews as SQL and HTTP. The call is held while an approver
 * decides: with progress notifications when the caller sent a progressToken (held as long as a PostgreSQL statement
 * is), otherwise for the HTTP wait. Approved: it runs once. Still undecided: a JSON-RPC error naming the review, and
 * the same call (same identity, tool, arguments) sent again runs once it is approved. Denied or expired: an error.
 * Resolves when the call may run; throws the RpcError to answer otherwise (the handle is finished then).
 */
export async function awaitMcpApproval(context: HeldCallContext): Promise<void> {
  const { approvals, handle, call } = context;
  let ticks = 0;
  const timer =
    context.progress === undefined
      ? undefined
      : setInterval(() => {
          ticks++;
          context.progress?.notify(`waiting for approval (${ticks}s)`);
        }, PROGRESS_EVERY_MS);
  try {
    const outcome = await approvals.requestApproval(
      {
        identity: context.identity,
        sessionId: context.sessionId,
        operation: context.operation,
        decision: handle.decision,
        exact: { protocol: 'mcp', method: call.method, target: call.target, arguments: canonicalJson(call.arguments) },
        ...(context.maskExcerpt === undefined ? {} : { maskExcerpt: context.maskExcerpt }),
      },
      {
        waitMs: context.progress === undefined ? approvals.waits.http : approvals.waits.postgres,
        onTimeout: 'pending',
        signal: context.signal,
        onReview: (review) => context.progress?.notify(approvalNotice(review, context.publicUrl)),
      },
    );
    if (outcome.status === 'approved') {
      await approvals.markExecuted(outcome.review.id);
      return;
    }
    const data = { rule: handle.decision.rule.id, reviewId: outcome.review.id, state: outcome.review.state };
    if (outcome.status === 'pending') {
      await handle.finish({ outcome: 'refused', error: `review ${outcome.review.id} pending` });
      throw new RpcError(
        RPC_ERRORS.review,
        `${approvalNotice(outcome.review, context.publicUrl)}; send the same call again once it is approved`,
        data,
      );
    }
    await handle.finish({ outcome: 'refused', error: `review ${outcome.review.id} ${outcome.status}` });
    throw new RpcError(RPC_ERRORS.review, outcome.message, data);
  } catch (error) {
    if (error instanceof RpcError) throw error;
    // A review that cannot be made (no approvers, an approval already used): refused, named.
    const message = isGatehouseError(error) ? error.message : 'the review could not be made';
    await handle.finish({ outcome: 'refused', error: 'policy.review_required' }).catch(() => undefined);
    throw new RpcError(RPC_ERRORS.review, message, { rule: handle.decision.rule.id });
  } finally {
    clearInterval(timer);
  }
}
