import { type Insertable, type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { Store } from '../store/store.js';
import type {
  AccessRequest,
  Approver,
  Review,
  ReviewCause,
  ReviewDecisionRecord,
  ReviewedOperation,
  ReviewState,
} from './review.js';
import { reviveCause } from './review.js';
import { reviewError } from './review-errors.js';
import { REVIEW_CHANNEL } from './review-feed.js';
import type { ApprovalsSchema, ReviewDecisionsTable, ReviewsTable } from './review-tables.js';

type ReviewRow = Selectable<ReviewsTable>;
type DecisionRow = Selectable<ReviewDecisionsTable>;

export interface DecideInput {
  readonly approver: Approver;
  readonly verdict: 'approve' | 'deny';
  readonly reason?: string;
  readonly via: 'api' | 'webhook';
  readonly now: number;
  /** How long an approved operation may be run (once); access windows use their own duration. */
  readonly validityMs: number;
}

export interface DecideResult {
  readonly review: Review;
  /** Set when this decision moved the review out of `pending`. */
  readonly transition?: 'approved' | 'denied';
}

/**
 * The reviews' durable state, in the shared store (SQLite or PostgreSQL) through its query builder. Every state change
 * is a conditional update (`where state = ...`), so replicas sharing a PostgreSQL store never decide, expire or run a
 * review twice.
 */
export class ReviewStore {
  private readonly db: Kysely<ApprovalsSchema>;

  constructor(private readonly store: Store) {
    this.db = store.kysely as unknown as Kysely<ApprovalsSchema>;
  }

  /** `holder`: the gateway instance whose caller waits on the review and must be there for it to run. */
  async insert(review: Review, holder?: string): Promise<void> {
    await this.db
      .insertInto('reviews')
      .values({ ...toRow(review), holder: holder ?? null })
      .execute();
  }

  async get(id: string): Promise<Review | undefined> {
    const row = await this.db.selectFrom('reviews').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    return fromRow(row, await this.decisionsOf(this.db, id));
  }

  async list(query: { state?: ReviewState; limit: number }): Promise<Review[]> {
    let select = this.db.selectFrom('reviews').selectAll().orderBy('created_at', 'desc').limit(query.limit);
    if (query.state !== undefined) select = select.where('state', '=', query.state);
    const rows = await select.execute();
    if (rows.length === 0) return [];
    const decisions = await this.db
      .selectFrom('review_decisions')
      .selectAll()
      .where(
        'review_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('at')
      .execute();
    return rows.map((row) => fromRow(row, decisions.filter((d) => d.review_id === row.id).map(toDecision)));
  }

  /** The newest review of this requester with this fingerprint in one of `states`. */
  async findByFingerprint(
    fingerprint: string,
    requester: { issuer: string; subject: string },
    states: readonly ReviewState[],
  ): Promise<Review | undefined> {
    const row = await this.db
      .selectFrom('reviews')
      .selectAll()
      .where('fingerprint', '=', fingerprint)
      .where('state', 'in', [...states])
      .where('requester_issuer', '=', requester.issuer)
      .where('requester_subject', '=', requester.subject)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row, await this.decisionsOf(this.db, row.id));
  }

  /** States of the given reviews, for waiters polling decisions made elsewhere. */
  async statesOf(ids: readonly string[]): Promise<Map<string, ReviewState>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('reviews')
      .select(['id', 'state'])
      .where('id', 'in', [...ids])
      .execute();
    return new Map(rows.map((r) => [r.id, r.state as ReviewState]));
  }

  /**
   * Moves a review from one of `from` to `to` if it is still there; true when this call made the change. The
   * conditional update is the lock: of two replicas racing, one wins.
   */
  async transition(
    id: string,
    from: readonly ReviewState[],
    to: ReviewState,
    now: number,
    extra: { decided_at?: number; executed_at?: number } = {},
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('reviews')
      .set({ state: to, updated_at: now, ...extra })
      .where('id', '=', id)
      .where('state', 'in', [...from])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Pending reviews past their expiry, and approvals (unused operations, ended windows) past their validity. */
  async due(now: number): Promise<{ id: string; state: ReviewState }[]> {
    const rows = await this.db
      .selectFrom('reviews')
      .select(['id', 'state'])
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'pending'), eb('expires_at', '<=', now)]),
          eb.and([eb('state', '=', 'approved'), eb('valid_until', '<=', now)]),
        ]),
      )
      .limit(500)
      .execute();
    return rows.map((r) => ({ id: r.id, state: r.state as ReviewState }));
  }

  /** Approved access reviews whose window has not ended. */
  async activeAccess(now: number): Promise<Review[]> {
    const rows = await this.db
      .selectFrom('reviews')
      .selectAll()
      .where('kind', '=', 'access')
      .where('state', '=', 'approved')
      .where('valid_until', '>', now)
      .execute();
    return rows.map((row) => fromRow(row, []));
  }

  /**
   * Records one approver's decision and, when it settles the review, moves it to approved or denied, in one
   * transaction. Refuses unknown, expired and settled reviews, self-approval, approvers outside the approver groups
   * and a second decision by the same approver.
   */
  async decide(id: string, input: DecideInput): Promise<DecideResult> {
    return this.db.transaction().execute(async (trx) => {
      let select = trx.selectFrom('reviews').selectAll().where('id', '=', id);
      if (this.store.dialect === 'postgres') select = select.forUpdate();
      const row = await select.executeTakeFirst();
      if (row === undefined) throw reviewError('unknown', `no review has the id "${id}"`, id);
      const decisions = await this.decisionsOf(trx, id);
      const review = fromRow(row, decisions);
      checkDecidable(review, input);
      await trx
        .insertInto('review_decisions')
        .values({
          review_id: id,
          approver_issuer: input.approver.issuer,
          approver_subject: input.approver.subject,
          approver_groups: JSON.stringify(input.approver.groups),
          verdict: input.verdict,
          reason: input.reason ?? null,
          via: input.via,
          at: input.now,
        })
        .execute();
      const approvals = decisions.filter((d) => d.verdict === 'approve').length + (input.verdict === 'approve' ? 1 : 0);
      let transition: DecideResult['transition'];
      if (input.verdict === 'deny') transition = 'denied';
      else if (approvals >= review.approvalsRequired) transition = 'approved';
      const validUntil =
        transition === 'approved'
          ? input.now + (review.access !== undefined ? review.access.durationMs : input.validityMs)
          : null;
      await trx
        .updateTable('reviews')
        .set({
          updated_at: input.now,
          ...(transition === undefined
            ? {}
            : {
                state: transition,
                decided_at: input.now,
                ...(validUntil === null ? {} : { valid_until: validUntil }),
              }),
        })
        .where('id', '=', id)
        .execute();
      const updated = await trx.selectFrom('reviews').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return {
        review: fromRow(updated, await this.decisionsOf(trx, id)),
        ...(transition === undefined ? {} : { transition }),
      };
    });
  }

  /**
   * Tells the other replicas sharing a PostgreSQL store that a review changed (see review-feed.ts); SQLite has one
   * gateway, woken in process.
   */
  async publish(review: Pick<Review, 'id' | 'kind'>): Promise<void> {
    if (this.store.dialect !== 'postgres') return;
    await sql`select pg_notify(${REVIEW_CHANNEL}, ${`${review.kind}:${review.id}`})`.execute(this.db);
  }

  /** Remembers an inbound webhook nonce; false when it was already seen (a replay). Forgets nonces past `keepMs`. */
  async rememberNonce(nonce: string, now: number, keepMs: number): Promise<boolean> {
    await this.db
      .deleteFrom('webhook_nonces')
      .where('seen_at', '<', now - keepMs)
      .execute();
    const result = await this.db
      .insertInto('webhook_nonces')
      .values({ nonce, seen_at: now })
      .onConflict((oc) => oc.column('nonce').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  private async decisionsOf(
    db: Kysely<ApprovalsSchema> | Transaction<ApprovalsSchema>,
    id: string,
  ): Promise<ReviewDecisionRecord[]> {
    const rows = await db
      .selectFrom('review_decisions')
      .selectAll()
      .where('review_id', '=', id)
      .orderBy('at')
      .execute();
    return rows.map(toDecision);
  }
}

function checkDecidable(review: Review, input: DecideInput): void {
  const { approver } = input;
  if (review.state !== 'pending') {
    throw reviewError(
      review.state === 'expired' ? 'expired' : 'already-decided',
      review.state === 'expired'
        ? `review ${review.id} has expired and can no longer be decided`
        : `review ${review.id} is already ${review.state}`,
      review.id,
    );
  }
  if (review.expiresAt <= input.now) {
    throw reviewError('expired', `review ${review.id} has expired and can no longer be decided`, review.id);
  }
  if (approver.issuer === review.requester.issuer && approver.subject === review.requester.subject) {
    throw reviewError(
      'self-approval',
      `review ${review.id} was requested by you: someone else must decide it`,
      review.id,
    );
  }
  if (!approver.groups.some((g) => review.approverGroups.includes(g))) {
    throw reviewError(
      'not-approver',
      `you are not in an approver group of review ${review.id} (${review.approverGroups.join(', ')})`,
      review.id,
    );
  }
  if (review.decisions.some((d) => d.issuer === approver.issuer && d.subject === approver.subject)) {
    throw reviewError('already-decided', `you have already decided review ${review.id}`, review.id);
  }
}

function toRow(review: Review): Insertable<ReviewsTable> {
  return {
    id: review.id,
    kind: review.kind,
    state: review.state,
    requester_issuer: review.requester.issuer,
    requester_subject: review.requester.subject,
    requester_groups: JSON.stringify(review.requester.groups),
    requester_token_id: review.requester.tokenId,
    session_id: review.requester.sessionId,
    resource: review.operation.resource,
    operation: JSON.stringify(review.operation),
    cause: JSON.stringify(review.cause),
    approver_groups: JSON.stringify(review.approverGroups),
    approvals_required: review.approvalsRequired,
    fingerprint: review.fingerprint,
    request_reason: review.requestReason ?? null,
    access: review.access === undefined ? null : JSON.stringify(review.access),
    created_at: review.createdAt,
    expires_at: review.expiresAt,
    decided_at: review.decidedAt ?? null,
    valid_until: review.validUntil ?? null,
    executed_at: review.executedAt ?? null,
    updated_at: review.createdAt,
  };
}

function optionalNumber(value: number | string | null): number | undefined {
  return value === null ? undefined : Number(value);
}

function fromRow(row: ReviewRow, decisions: readonly ReviewDecisionRecord[]): Review {
  const decidedAt = optionalNumber(row.decided_at);
  const validUntil = optionalNumber(row.valid_until);
  const executedAt = optionalNumber(row.executed_at);
  return {
    id: row.id,
    kind: row.kind as Review['kind'],
    state: row.state as ReviewState,
    requester: {
      issuer: row.requester_issuer,
      subject: row.requester_subject,
      groups: JSON.parse(row.requester_groups) as string[],
      tokenId: row.requester_token_id,
      sessionId: row.session_id,
    },
    operation: JSON.parse(row.operation) as ReviewedOperation,
    cause: reviveCause(JSON.parse(row.cause) as ReviewCause),
    approverGroups: JSON.parse(row.approver_groups) as string[],
    approvalsRequired: Number(row.approvals_required),
    fingerprint: row.fingerprint,
    ...(row.request_reason === null ? {} : { requestReason: row.request_reason }),
    ...(row.access === null ? {} : { access: JSON.parse(row.access) as AccessRequest }),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    ...(decidedAt === undefined ? {} : { decidedAt }),
    ...(validUntil === undefined ? {} : { validUntil }),
    ...(executedAt === undefined ? {} : { executedAt }),
    decisions,
  };
}

function toDecision(row: DecisionRow): ReviewDecisionRecord {
  return {
    verdict: row.verdict as 'approve' | 'deny',
    issuer: row.approver_issuer,
    subject: row.approver_subject,
    groups: JSON.parse(row.approver_groups) as string[],
    ...(row.reason === null ? {} : { reason: row.reason }),
    at: Number(row.at),
    via: row.via as 'api' | 'webhook',
  };
}
