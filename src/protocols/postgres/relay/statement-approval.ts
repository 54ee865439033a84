import type { Logger } from 'pino';
import { approvalNotice } from '../../../approvals/approval-notice.js';
import type { ApprovalOutcome } from '../../../approvals/approval-outcome.js';
import type { ApprovalService } from '../../../approvals/approval-service.js';
import type { ExactOperation } from '../../../approvals/review.js';
import { reviewRefusalOf } from '../../../approvals/review-errors.js';
import { GatehouseError, isGatehouseError } from '../../../core/errors.js';
import type { Identity } from '../../../core/identity.js';
import type { Operation } from '../../../core/operation.js';
import type { OperationHandle } from '../../../session/session.js';
import { type ErrorFields, encodeNoticeResponse } from '../wire/backend-messages.js';
import { refusalFor, SESSION_SQLSTATE, sessionFatal } from '../wire/error-response.js';

/** SQLSTATE query_canceled: what the server itself answers to a cancelled or timed-out statement. */
const QUERY_CANCELED = '57014';

export interface StatementApprovalOptions {
  readonly approvals: ApprovalService;
  /** Where approvers reach the admin listener, for the notice's link. */
  readonly publicUrl?: string | undefined;
  /** Longest a statement is held for a decision. */
  readonly waitMs: number;
  readonly identity: Identity;
  /** The Session id: the review's events join this session's audit timeline. */
  readonly sessionId: string;
  /** Writes bytes to the client at once: the NoticeResponse must arrive while the statement is held. */
  readonly notify: (bytes: Buffer) => void;
  readonly logger: Logger;
}

/** What the proxy does with a statement policy sent to review. */
export type ApprovalVerdict =
  /** Approved and claimed (`markExecuted`): run it now, once. */
  | { readonly kind: 'run' }
  /** Approved, but the connection can no longer run it (closing, or skipping to Sync): left unclaimed. */
  | { readonly kind: 'skip' }
  /** Not to run: answer with this error; the connection stays usable. */
  | { readonly kind: 'refuse'; readonly refusal: GatehouseError }
  /** The gateway is stopping: refuse and end the session with `fatal`. */
  | { readonly kind: 'end'; readonly refusal: GatehouseError; readonly fatal: ErrorFields };

/**
 * Just-in-time approval for one client connection: holds a statement policy sent to review until an approver
 * decides, the wait ends, or the client cancels (CancelRequest through the gateway's key) or goes away. Statements
 * of one connection are handled one at a time, so at most one is held; messages pipelined behind it wait.
 */
export class StatementApproval {
  private held: AbortController | undefined;

  constructor(private readonly options: StatementApprovalOptions) {}

  /** True while a statement waits for a decision. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** CancelRequest or disconnect: withdraws the held statement's review. False when nothing is held. */
  withdraw(): boolean {
    if (this.held === undefined) return false;
    this.held.abort();
    return true;
  }

  /**
   * Creates the review, tells the client, waits, and (approved) claims its one run. `canRun` is asked after the
   * approval and before the claim, so an approval the connection can no longer use is not spent.
   */
  async decide(
    handle: OperationHandle,
    operation: Operation,
    exact: ExactOperation,
    canRun: () => boolean,
  ): Promise<ApprovalVerdict> {
    const { approvals, identity, sessionId, waitMs, publicUrl, notify } = this.options;
    const held = new AbortController();
    this.held = held;
    let outcome: ApprovalOutcome;
    try {
      outcome = await approvals.requestApproval(
        { identity, sessionId, operation, decision: handle.decision, exact },
        {
          waitMs,
          onTimeout: 'expire',
          signal: held.signal,
          onReview: (review) =>
            notify(
              encodeNoticeResponse({ severity: 'NOTICE', code: '00000', message: approvalNotice(review, publicUrl) }),
            ),
        },
      );
    } catch (error) {
      return { kind: 'refuse', refusal: this.unrequestable(error, handle, operation.action) };
    } finally {
      this.held = undefined;
    }
    const rule = handle.decision.rule.id;
    const id = outcome.review.id;
    switch (outcome.status) {
      case 'approved':
        if (!canRun()) return { kind: 'skip' };
        return this.claim(id, rule);
      case 'denied':
        return refuse(
          'policy.denied',
          `gatehouse: ${operation.action} was denied in review ${id}${outcome.reason ? `: ${outcome.reason}` : ''}; ` +
            'the statement was not run',
          { rule, review: id },
        );
      case 'withdrawn':
        return refuse(
          'policy.review_required',
          `gatehouse: canceling statement due to user request: review ${id} was withdrawn; the statement was not run`,
          { rule, review: id, sqlstate: QUERY_CANCELED },
        );
      case 'executed':
        return refuse('policy.review_required', `gatehouse: ${outcome.message}; the statement was not run`, {
          rule,
          review: id,
          sqlstate: '42501',
        });
      case 'pending':
        if (outcome.why === 'stopping') {
          const message = `gatehouse: the gateway is stopping; review ${id} was not decided and the statement was not run`;
          return {
            kind: 'end',
            refusal: new GatehouseError('policy.review_required', message, { details: { rule, review: id } }),
            fatal: sessionFatal(SESSION_SQLSTATE.adminShutdown, message),
          };
        }
        return expired(id, rule, waitMs);
      case 'expired':
        return expired(id, rule, waitMs);
    }
  }

  /** Spends the approval on this run; exactly one caller can. Anything else refuses. */
  private async claim(id: string, rule: string): Promise<ApprovalVerdict> {
    try {
      await this.options.approvals.markExecuted(id);
      return { kind: 'run' };
    } catch (error) {
      if (!isGatehouseError(error)) {
        this.options.logger.error({ err: error, review: id }, 'approved review could not be claimed; refused');
        return { kind: 'refuse', refusal: notRecorded() };
      }
      return refuse(
        'policy.review_required',
        `gatehouse: the approval of review ${id} could not be used (${error.message}); the statement was not run`,
        { rule, review: id, sqlstate: '42501' },
      );
    }
  }

  /** requestApproval failed before waiting: a rule naming no approvers, or the review could not be stored. */
  private unrequestable(error: unknown, handle: OperationHandle, action: string): GatehouseError {
    if (isGatehouseError(error) && reviewRefusalOf(error) === 'no-approvers') {
      const refusal = refusalFor(handle.decision, action);
      return new GatehouseError(refusal.code, refusal.message, {
        details: {
          ...refusal.details,
          hint: 'The rule that asks for review names no approvers, so the statement cannot wait for an approval.',
        },
      });
    }
    this.options.logger.error({ err: error }, 'review could not be created; refused');
    return notRecorded();
  }
}

function refuse(
  code: 'policy.denied' | 'policy.review_required',
  message: string,
  details: Record<string, string>,
): ApprovalVerdict {
  return { kind: 'refuse', refusal: new GatehouseError(code, message, { details }) };
}

function expired(id: string, rule: string, waitMs: number): ApprovalVerdict {
  return refuse(
    'policy.review_required',
    `gatehouse: canceling statement: review ${id} got no decision within ${Math.round(waitMs / 1000)} s and ` +
      'expired; the statement was not run',
    {
      rule,
      review: id,
      sqlstate: QUERY_CANCELED,
      hint: 'Send the statement again to open a new review, and ask an approver to decide while it waits.',
    },
  );
}

function notRecorded(): GatehouseError {
  return new GatehouseError(
    'audit.unavailable',
    'gatehouse: the review could not be recorded; the statement was not run',
  );
}

/**
 * A Bind message's parameter values, for the review and its fingerprint: text-format values as text, binary ones as
 * `\x` and hex (as bytea prints). Hand-written because pg-protocol only serializes Bind, it does not parse it.
 */
export function bindParameters(body: Buffer): (string | null)[] {
  let offset = body.indexOf(0) + 1; // portal
  offset = body.indexOf(0, offset) + 1; // statement
  const formatCount = body.readInt16BE(offset);
  offset += 2;
  const formats: number[] = [];
  for (let i = 0; i < formatCount; i++, offset += 2) formats.push(body.readInt16BE(offset));
  const count = body.readInt16BE(offset);
  offset += 2;
  const values: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    const format = formatCount === 0 ? 0 : formatCount === 1 ? formats[0] : formats[i];
    const value = body.subarray(offset, offset + length);
    values.push(format === 1 ? `\\x${value.toString('hex')}` : value.toString('utf8'));
    offset += length;
  }
  return values;
}
