import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AuditRecorder } from '../audit/recorder.js';
import type { ApprovalsConfig, ResourceConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Decision } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { Operation } from '../core/operation.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Store } from '../store/store.js';
import type { AccessGrantCache } from './access-grants.js';
import { type AccessRequestInput, matchAccessPolicy } from './access-requests.js';
import { type ApprovalOutcome, outcomeOf, pendingOutcome } from './approval-outcome.js';
import { accessFingerprint, operationFingerprint, reviewedOperation } from './fingerprint.js';
import type { InstanceLease } from './instance-lease.js';
import { ReplicaCoordination } from './replica-coordination.js';
import type { Approver, ExactOperation, Review, ReviewEvent, ReviewState } from './review.js';
import { recordReviewEvent } from './review-audit.js';
import { reviewError } from './review-errors.js';
import type { ReviewFeed } from './review-feed.js';
import { ReviewNotifier } from './review-notifier.js';
import { ReviewStore } from './review-store.js';
import { ReviewWaiters } from './review-waiters.js';

export interface ApprovalServiceOptions {
  readonly store: Store;
  readonly recorder: AuditRecorder;
  readonly policy: PolicyEngine;
  /** The cache the policy engine reads grants from (built first, handed to both). */
  readonly grants: AccessGrantCache;
  readonly resources: readonly ResourceConfig[];
  readonly config: ApprovalsConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  /** PostgreSQL store: review changes pushed by the other replicas (LISTEN/NOTIFY); the poll stays as a fallback. */
  readonly feed?: ReviewFeed;
  /**
   * This process's lease in the store: reviews whose caller waits here name it, are withdrawn when this process
   * stops, and by any replica once the lease lapses (the process died).
   */
  readonly lease?: InstanceLease;
}

/** What a listener hands over when policy says `review`. */
export interface ApprovalRequest {
  readonly identity: Identity;
  /** The listener's Session id: the review's audit events join that session's timeline. */
  readonly sessionId: string;
  readonly operation: Operation;
  /** The `review` decision from `session.begin`. */
  readonly decision: Decision;
  /** Exactly what would run (SQL and parameters, or method, path, query and body): the fingerprint's input. */
  readonly exact: ExactOperation;
  /** Masks the HTTP body excerpt approvers see (the resource's masking profile); without it, it is only truncated. */
  readonly maskExcerpt?: (text: string) => string;
}

export interface WaitOptions {
  /** Longest the caller is held; use `waitMs` of this service (`waits.http` / `waits.postgres`) unless told. */
  readonly waitMs: number;
  /** Aborting withdraws the review (PostgreSQL CancelRequest, client gone). */
  readonly signal?: AbortSignal;
  /**
   * When the wait ends undecided: `expire` the review (a held PostgreSQL statement fails and must never run later),
   * or leave it `pending` (HTTP: the caller answers 202 and may send the request again once approved).
   */
  readonly onTimeout: 'expire' | 'pending';
}

export interface RequestOptions extends WaitOptions {
  /** Called once the review exists, before waiting: the PostgreSQL listener sends its NoticeResponse here. */
  readonly onReview?: (review: Review, created: boolean) => void | Promise<void>;
}

/**
 * Just-in-time approval: creates durable reviews for `review` decisions, holds callers until a decision, an expiry or
 * a cancel, records every review event in the audit log and tells webhooks. Waiting is event-driven inside one
 * gateway (decisions made here wake waiters at once); decisions made by other replicas sharing a PostgreSQL store
 * arrive through the feed (LISTEN/NOTIFY), with a store poll as fallback. A held PostgreSQL statement's review is
 * withdrawn when its gateway stops or dies (lease): nothing could run it once approved. HTTP reviews stay decidable
 * until they expire: a re-sent request runs once approved.
 */
export class ApprovalService {
  readonly reviews: ReviewStore;
  readonly notifier: ReviewNotifier;
  /** Default waits from config, for listeners. */
  readonly waits: { readonly http: number; readonly postgres: number };
  private readonly waiters: ReviewWaiters;
  private readonly changes = new EventEmitter();
  private timer: NodeJS.Timeout | undefined;
  private readonly replicas: ReplicaCoordination;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: ApprovalServiceOptions) {
    const { config, clock, logger } = options;
    this.reviews = new ReviewStore(options.store);
    this.notifier = new ReviewNotifier(config, clock, logger.child({ component: 'approvals' }));
    this.waits = { http: config.httpWait, postgres: Math.min(config.postgresWait, config.timeout) };
    this.waiters = new ReviewWaiters(this.reviews, clock);
    this.replicas = new ReplicaCoordination({
      ...(options.feed === undefined ? {} : { feed: options.feed }),
      ...(options.lease === undefined ? {} : { lease: options.lease }),
      waiters: this.waiters,
      grants: options.grants,
      logger,
      withdraw: async (id) => (await this.move(id, ['pending'], 'withdrawn', 'withdrawn')) !== undefined,
      poll: () => this.sweep(),
    });
    this.changes.setMaxListeners(0);
  }

  /**
   * Registers this instance's lease, withdraws reviews orphaned by instances that died, loads active access windows,
   * listens for other replicas' changes and starts the poll (decisions elsewhere, expiries, windows, orphans).
   */
  async start(): Promise<void> {
    await this.options.grants.refresh();
    await this.replicas.start();
    this.timer = setInterval(() => void this.sweep(), this.options.config.pollInterval);
    this.timer.unref();
  }

  /**
   * Stops polling; held callers get `pending` (why: stopping). Reviews whose caller waited here are withdrawn: the
   * caller is gone, so an approval would run nothing. Other reviews (HTTP) stay decidable.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sweeping;
    this.waiters.stopAll();
    await this.replicas.stop();
    await this.notifier.drain();
  }

  /** This instance's lease (readiness reads whether the store accepts its writes). */
  get lease(): InstanceLease | undefined {
    return this.options.lease;
  }

  /** Subscribes to review changes made through this service (tests, admin page refresh). */
  onChange(listener: (review: Review, event: ReviewEvent) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  /** Settings of the signed inbound decision webhook, when configured. */
  get inboundConfig(): ApprovalsConfig['inbound'] {
    return this.options.config.inbound;
  }

  fingerprint(identity: Pick<Identity, 'issuer' | 'subject'>, resource: string, exact: ExactOperation): string {
    return operationFingerprint(identity, resource, exact);
  }

  /**
   * The seam for listeners. Reuses this requester's approved-and-unused review of the same operation (a re-sent HTTP
   * request: returns `approved` at once) or its pending one; otherwise creates a review. Then waits.
   */
  async requestApproval(request: ApprovalRequest, options: RequestOptions): Promise<ApprovalOutcome> {
    const { identity, operation, decision, exact } = request;
    const requirements = this.options.policy.reviewRequirements(decision.rule.id) ?? {
      approvers: decision.approverGroups ?? [],
      approvals: 1,
    };
    if (requirements.approvers.length === 0) {
      throw reviewError('no-approvers', `rule ${decision.rule.id} names no approvers, so this cannot be approved`);
    }
    const fingerprint = operationFingerprint(identity, operation.resource, exact);
    // HTTP requests and MCP calls may be sent again once approved; a held PostgreSQL statement never is.
    if (exact.protocol !== 'postgres') {
      const approved = await this.findApproved(fingerprint, identity);
      if (approved !== undefined) {
        await options.onReview?.(approved, false);
        return outcomeOf(approved) as ApprovalOutcome;
      }
    }
    const now = this.options.clock.now();
    const existing =
      exact.protocol !== 'postgres'
        ? await this.reviews.findByFingerprint(fingerprint, identity, ['pending'])
        : undefined;
    let review: Review;
    if (existing !== undefined && existing.expiresAt > now) {
      review = existing;
    } else {
      review = {
        id: newReviewId(),
        kind: 'operation',
        state: 'pending',
        requester: requesterOf(identity, request.sessionId),
        operation: reviewedOperation(operation, exact, this.options.config.bodyExcerptBytes, request.maskExcerpt),
        cause: {
          ruleId: decision.rule.id,
          selector: decision.rule.selector,
          reason: decision.reason,
          message: decision.message,
          ...(decision.threshold === undefined ? {} : { threshold: decision.threshold }),
        },
        approverGroups: requirements.approvers,
        approvalsRequired: requirements.approvals,
        fingerprint,
        createdAt: now,
        expiresAt: now + this.options.config.timeout,
        decisions: [],
      };
      await this.create(review, options.onTimeout === 'expire' ? this.replicas.holder : undefined);
    }
    await options.onReview?.(review, review !== existing);
    return this.waitFor(review, options);
  }

  /** Holds until the review is decided, expires, is withdrawn (signal) or the wait ends. */
  async waitForDecision(reviewId: string, options: WaitOptions): Promise<ApprovalOutcome> {
    const review = await this.reviews.get(reviewId);
    if (review === undefined) throw reviewError('unknown', `no review has the id "${reviewId}"`, reviewId);
    return this.waitFor(review, options);
  }

  private async waitFor(review: Review, options: WaitOptions): Promise<ApprovalOutcome> {
    const reviewId = review.id;
    const settled = await this.waiters.wait(review, options.waitMs, options.signal, () => this.stopped);
    if (settled.kind === 'decided') return settled.outcome;
    if (settled.kind === 'stopping') return pendingOutcome(settled.review, 'stopping');
    if (settled.kind === 'aborted') {
      await this.move(settled.review.id, ['pending', 'approved'], 'withdrawn', 'withdrawn');
      const after = (await this.reviews.get(reviewId)) ?? settled.review;
      return {
        status: 'withdrawn',
        review: after,
        message: `review ${reviewId} was withdrawn; the operation was not run`,
      };
    }
    if (options.onTimeout === 'expire') await this.move(reviewId, ['pending'], 'expired', 'expired');
    const now = (await this.reviews.get(reviewId)) ?? settled.review;
    return outcomeOf(now) ?? pendingOutcome(now, 'wait-ended');
  }

  /** This requester's approved, unused and still valid review with this fingerprint. */
  async findApproved(fingerprint: string, identity: Pick<Identity, 'issuer' | 'subject'>): Promise<Review | undefined> {
    const review = await this.reviews.findByFingerprint(fingerprint, identity, ['approved']);
    if (review === undefined || (review.validUntil ?? 0) <= this.options.clock.now()) return undefined;
    return review;
  }

  /**
   * Claims an approved review for its one run: call right before running the operation, and run only if this
   * resolves. Of concurrent callers (re-sent requests, replicas) exactly one succeeds.
   */
  async markExecuted(reviewId: string): Promise<Review> {
    const review = await this.reviews.get(reviewId);
    if (review === undefined) throw reviewError('unknown', `no review has the id "${reviewId}"`, reviewId);
    const now = this.options.clock.now();
    if (review.state === 'approved' && (review.validUntil ?? 0) <= now) {
      await this.move(reviewId, ['approved'], 'expired', 'expired');
      throw reviewError('expired', `the approval of review ${reviewId} is no longer valid`, reviewId);
    }
    const claimed = await this.move(reviewId, ['approved'], 'executed', 'executed', { executed_at: now });
    if (claimed === undefined) {
      throw reviewError('not-approved', `review ${reviewId} is ${review.state}, not approved: it cannot run`, reviewId);
    }
    return claimed;
  }

  /** An approver decides. Validation (groups, self-approval, state, expiry, duplicates) happens in one transaction. */
  async decide(
    reviewId: string,
    approver: Approver,
    verdict: 'approve' | 'deny',
    options: { reason?: string; via?: 'api' | 'webhook' } = {},
  ): Promise<Review> {
    const reason = options.reason?.trim();
    if (verdict === 'deny' && (reason === undefined || reason.length === 0)) {
      throw reviewError('invalid', 'a denial needs a reason', reviewId);
    }
    if (reason !== undefined && reason.length > 500) throw reviewError('invalid', 'the reason is too long', reviewId);
    const now = this.options.clock.now();
    const existing = await this.reviews.get(reviewId);
    if (existing?.state === 'pending' && existing.expiresAt <= now) {
      await this.move(reviewId, ['pending'], 'expired', 'expired');
    }
    const result = await this.reviews.decide(reviewId, {
      approver,
      verdict,
      ...(reason === undefined || reason === '' ? {} : { reason }),
      via: options.via ?? 'api',
      now,
      validityMs: this.options.config.validity,
    });
    const event: ReviewEvent = result.transition ?? 'approval';
    await this.announce(result.review, event, now, { approver, ...(reason ? { reason } : {}) });
    if (result.transition === 'approved' && result.review.kind === 'access') await this.options.grants.refresh();
    return result.review;
  }

  /**
   * Asks for an access window (`gatehouse access request`). The request gets its own audit session (protocol
   * `admin`) whose timeline carries the review's events.
   */
  async requestAccess(identity: Identity, input: AccessRequestInput): Promise<Review> {
    const match = matchAccessPolicy(this.options.config, this.options.resources, identity.groups, input);
    const grantee = match.access.scope === 'group' ? `group:${match.access.group}` : 'identity';
    const fingerprint = accessFingerprint(identity, match.access.resource, match.access.kind, grantee);
    const now = this.options.clock.now();
    const existing = await this.reviews.findByFingerprint(fingerprint, identity, ['pending']);
    if (existing !== undefined && existing.expiresAt > now) return existing;
    const sessionId = randomUUID();
    const { recorder } = this.options;
    await recorder.record({
      sessionId,
      type: 'session.start',
      at: now,
      payload: {
        protocol: 'admin',
        resource: match.access.resource,
        issuer: identity.issuer,
        subject: identity.subject,
        groups: identity.groups,
        tokenId: identity.tokenId,
      },
    });
    const minutes = Math.round(match.access.durationMs / 60_000);
    const review: Review = {
      id: newReviewId(),
      kind: 'access',
      state: 'pending',
      requester: requesterOf(identity, sessionId),
      operation: {
        protocol: this.options.resources.find((r) => r.name === match.access.resource)?.protocol ?? 'http',
        resource: match.access.resource,
        kind: match.access.kind,
        tags: [],
        action: `ACCESS ${match.access.kind}`,
        text: `${match.access.kind} access to ${match.access.resource} for ${minutes} min (${grantee})`,
      },
      cause: {
        ruleId: match.ruleId,
        selector: `access: ${match.access.kind}`,
        reason: 'access-request',
        message: `access window requested: ${match.access.kind} on ${match.access.resource} for ${minutes} min`,
      },
      approverGroups: match.approvers,
      approvalsRequired: match.approvals,
      fingerprint,
      requestReason: input.reason.trim(),
      access: match.access,
      createdAt: now,
      expiresAt: now + this.options.config.timeout,
      decisions: [],
    };
    await this.create(review);
    await recorder.record({ sessionId, type: 'session.end', at: now, payload: { reason: 'access-requested' } });
    return review;
  }

  get(reviewId: string): Promise<Review | undefined> {
    return this.reviews.get(reviewId);
  }

  list(query: { state?: ReviewState; limit?: number } = {}): Promise<Review[]> {
    return this.reviews.list({ ...(query.state ? { state: query.state } : {}), limit: query.limit ?? 100 });
  }

  /**
   * One poll: expires due reviews (pending past expiry, approvals past validity), wakes waiters whose reviews were
   * decided elsewhere and refreshes access windows. Runs on a timer; tests call it directly with an injected clock.
   */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const now = this.options.clock.now();
        for (const due of await this.reviews.due(now)) {
          await this.move(due.id, [due.state], 'expired', 'expired');
        }
        await this.waiters.poll();
        await this.replicas.withdrawOrphans();
        await this.options.grants.refresh();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'approval poll failed; retrying at the next interval');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private async create(review: Review, holder?: string): Promise<void> {
    await this.reviews.insert(review, holder);
    await this.announce(review, 'created', review.createdAt);
  }

  /** Conditional state change; when this call made it: audit, notify, wake waiters. Returns the updated review. */
  private async move(
    reviewId: string,
    from: readonly ReviewState[],
    to: ReviewState,
    event: ReviewEvent,
    extra: { executed_at?: number } = {},
  ): Promise<Review | undefined> {
    const now = this.options.clock.now();
    if (!(await this.reviews.transition(reviewId, from, to, now, extra))) return undefined;
    const review = await this.reviews.get(reviewId);
    if (review === undefined) return undefined;
    await this.announce(review, event, now);
    if (review.kind === 'access') await this.options.grants.refresh();
    return review;
  }

  private async announce(
    review: Review,
    event: ReviewEvent,
    at: number,
    extra: { approver?: Approver; reason?: string } = {},
  ): Promise<void> {
    try {
      await recordReviewEvent(this.options.recorder, review, event, at, extra);
    } finally {
      // Waiters and webhooks learn of the change even if the audit write failed: the state is already durable.
      this.waiters.changed(review);
      if (event !== 'created') {
        void this.reviews.publish(review).catch(() => undefined);
      }
      this.changes.emit('change', review, event);
      if (event !== 'approval') this.notifier.notify(review, event);
    }
  }
}

function requesterOf(identity: Identity, sessionId: string): Review['requester'] {
  return {
    issuer: identity.issuer,
    subject: identity.subject,
    groups: identity.groups,
    tokenId: identity.tokenId,
    sessionId,
  };
}

/** `rv_` and 16 hex digits: short enough to type into a CLI, never starting with `-`. */
function newReviewId(): string {
  return `rv_${randomBytes(8).toString('hex')}`;
}
