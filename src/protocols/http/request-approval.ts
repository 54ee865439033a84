import type { IncomingMessage, ServerResponse } from 'node:http';
import { approvalNotice } from '../../approvals/approval-notice.js';
import type { ApprovalService } from '../../approvals/approval-service.js';
import { GatehouseError, isGatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import { MaskCounts } from '../../masking/counts.js';
import type { MaskingResolution } from '../../masking/profile.js';
import type { OperationHandle } from '../../session/session.js';
import type { InspectedCall } from './call-inspection.js';
import { readBodyLimited } from './request-body.js';
import type { RequestPath } from './request-path.js';

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type HttpApprovalResult =
  /** Approved and claimed: run it, with the body the fingerprint was taken over. */
  | { readonly run: true; readonly inspected: InspectedCall }
  /** Answered already (202 pending) or to be answered with this refusal. */
  | { readonly run: false; readonly refusal?: GatehouseError };

export interface HttpApprovalContext {
  readonly approvals: ApprovalService;
  readonly publicUrl: string | undefined;
  readonly identity: Identity;
  readonly sessionId: string;
  readonly handle: OperationHandle;
  readonly inspected: InspectedCall;
  readonly path: RequestPath;
  readonly masking: MaskingResolution;
  readonly bodyLimit: number;
}

/**
 * A `review` decision on the HTTP path: the request is held while an approver decides, up to the configured wait.
 * Approved: it runs once. Still undecided: 202 with the review id, and the same request (same identity, resource,
 * method, path, query and body) sent again runs once it is approved. Denied, expired or already used: 403.
 */
export async function awaitHttpApproval(
  req: IncomingMessage,
  res: ServerResponse,
  context: HttpApprovalContext,
): Promise<HttpApprovalResult> {
  const { approvals, handle, identity } = context;
  const method = (req.method ?? 'GET').toUpperCase();
  // The body is part of what is approved: read it (bounded) if classification left it to stream.
  let inspected = context.inspected;
  if (inspected.raw === undefined && !BODYLESS.has(method)) {
    inspected = { ...inspected, raw: await readBodyLimited(req, context.bodyLimit) };
  }
  const redactor = context.masking.mode === 'mask' ? context.masking.plan.redactor : undefined;
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  try {
    const outcome = await approvals.requestApproval(
      {
        identity,
        sessionId: context.sessionId,
        operation: inspected.operation,
        decision: handle.decision,
        exact: {
          protocol: 'http',
          method,
          path: context.path.raw,
          query: context.path.query.replace(/^\?/, ''),
          ...(inspected.raw === undefined ? {} : { body: inspected.raw }),
          ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        },
        ...(redactor ? { maskExcerpt: (text: string) => redactor.mask(text, new MaskCounts()) } : {}),
      },
      { waitMs: approvals.waits.http, onTimeout: 'pending', signal: abort.signal },
    );
    if (outcome.status === 'approved') {
      await approvals.markExecuted(outcome.review.id);
      return { run: true, inspected };
    }
    if (outcome.status === 'pending' && outcome.why === 'wait-ended') {
      await handle.finish({ outcome: 'refused', status: 202, error: `review ${outcome.review.id} pending` });
      const body = JSON.stringify({
        review: { id: outcome.review.id, state: outcome.review.state },
        message: approvalNotice(outcome.review, context.publicUrl),
      });
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return { run: false };
    }
    await handle.finish({ outcome: 'refused', status: 403, error: `review ${outcome.review.id} ${outcome.status}` });
    return {
      run: false,
      refusal: new GatehouseError('policy.review_required', outcome.message, {
        details: { rule: handle.decision.rule.id, reason: handle.decision.reason, reviewId: outcome.review.id },
      }),
    };
  } catch (error) {
    const refusal = isGatehouseError(error)
      ? new GatehouseError('policy.review_required', error.message, { details: { rule: handle.decision.rule.id } })
      : new GatehouseError('internal', undefined, { cause: error });
    await handle.finish({ outcome: 'refused', status: 403, error: refusal.code }).catch(() => undefined);
    return { run: false, refusal };
  } finally {
    res.off('close', onClose);
  }
}
