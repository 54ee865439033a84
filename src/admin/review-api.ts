import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApprovalService } from '../approvals/approval-service.js';
import { REVIEW_STATES, type Review, type ReviewState } from '../approvals/review.js';
import { reviewError } from '../approvals/review-errors.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../approvals/webhook-signature.js';
import type { Clock } from '../core/clock.js';
import { parseDuration } from '../core/duration.js';
import { GatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { TokenVerifier } from '../identity/verifier.js';
import { bearerIdentity, optionalString, parseJsonObject, readText, sendAdminError, sendJson } from './admin-http.js';

export interface ReviewApiOptions {
  readonly approvals: ApprovalService;
  readonly verifier: TokenVerifier;
  readonly clock: Clock;
}

const MAX_BODY = 16 * 1024;
const REVIEW_PATH = /^\/api\/reviews\/([A-Za-z0-9_-]{1,64})(?:\/(approve|deny))?$/;

/**
 * The approvers' REST API on the admin listener. Every call but the signed decision webhook carries the caller's own
 * OIDC token (Bearer), verified like data-path tokens: approvers act as themselves, and reviews are visible only to
 * their requester and their approver groups.
 */
export class ReviewApi {
  constructor(private readonly options: ReviewApiOptions) {}

  /** Answers the request if it is one of ours; false otherwise (the admin server answers 404). */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<boolean> {
    const method = req.method ?? 'GET';
    try {
      if (path === '/api/reviews' && method === 'GET') {
        await this.list(req, res, query);
        return true;
      }
      if (path === '/api/access-requests' && method === 'POST') {
        await this.requestAccess(req, res);
        return true;
      }
      if (path === '/api/webhooks/decision' && method === 'POST') {
        await this.webhookDecision(req, res);
        return true;
      }
      const match = REVIEW_PATH.exec(path);
      if (match === null) return false;
      const [, id, action] = match as unknown as [string, string, 'approve' | 'deny' | undefined];
      if (action === undefined && method === 'GET') await this.show(req, res, id);
      else if (action !== undefined && method === 'POST') await this.decide(req, res, id, action);
      else sendJson(res, 405, { error: { code: 'request.invalid', message: 'method not allowed' } });
      return true;
    } catch (error) {
      sendAdminError(res, error);
      return true;
    }
  }

  private authenticate(req: IncomingMessage): Promise<Identity> {
    return bearerIdentity(req, this.options.verifier);
  }

  private async list(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const identity = await this.authenticate(req);
    const state = query.get('state') ?? undefined;
    if (state !== undefined && !(REVIEW_STATES as readonly string[]).includes(state)) {
      throw new GatehouseError('request.invalid', `state must be one of ${REVIEW_STATES.join(', ')}`);
    }
    const limit = Math.min(500, Math.max(1, Number(query.get('limit') ?? 100) || 100));
    const reviews = await this.options.approvals.list({
      ...(state === undefined ? {} : { state: state as ReviewState }),
      limit,
    });
    sendJson(res, 200, { reviews: reviews.filter((r) => visibleTo(r, identity)) });
  }

  private async show(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const identity = await this.authenticate(req);
    const review = await this.options.approvals.get(id);
    // Someone who may neither approve nor has asked learns nothing, not even that the id exists.
    if (review === undefined || !visibleTo(review, identity)) {
      throw reviewError('unknown', `no review has the id "${id}"`, id);
    }
    sendJson(res, 200, { review });
  }

  private async decide(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    action: 'approve' | 'deny',
  ): Promise<void> {
    const identity = await this.authenticate(req);
    const body = parseJsonObject(req, await readText(req, MAX_BODY));
    const reason = optionalString(body, 'reason');
    const review = await this.options.approvals.decide(
      id,
      { issuer: identity.issuer, subject: identity.subject, groups: identity.groups },
      action,
      { ...(reason === undefined ? {} : { reason }), via: 'api' },
    );
    sendJson(res, 200, { review });
  }

  private async requestAccess(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = await this.authenticate(req);
    const body = parseJsonObject(req, await readText(req, MAX_BODY));
    const resource = optionalString(body, 'resource');
    const kind = optionalString(body, 'kind');
    const reason = optionalString(body, 'reason') ?? '';
    const group = optionalString(body, 'group');
    const rawDuration = body.duration;
    const durationMs =
      typeof rawDuration === 'string' || typeof rawDuration === 'number' ? parseDuration(rawDuration) : undefined;
    if (resource === undefined || kind === undefined || durationMs === undefined) {
      throw new GatehouseError('request.invalid', 'give resource, kind, duration (e.g. "30m") and reason');
    }
    const review = await this.options.approvals.requestAccess(identity, {
      resource,
      kind,
      durationMs,
      reason,
      ...(group === undefined ? {} : { group }),
    });
    sendJson(res, 201, { review });
  }

  /**
   * A chat-ops bot decides on an approver's behalf: the body is signed like outbound notifications, the timestamp must
   * be recent and each signature is accepted once (replays inside the window are refused by the nonce store).
   */
  private async webhookDecision(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const inbound = this.options.approvals.inboundConfig;
    if (inbound === undefined) throw new GatehouseError('request.not_found', 'inbound decisions are not configured');
    const text = await readText(req, MAX_BODY);
    const now = this.options.clock.now();
    const check = verifySignature(
      inbound.secret,
      { timestamp: header(req, TIMESTAMP_HEADER), signature: header(req, SIGNATURE_HEADER) },
      text,
      now,
      inbound.tolerance,
    );
    if (!check.ok) throw reviewError('bad-signature', 'the webhook signature or timestamp was not accepted');
    if (!(await this.options.approvals.reviews.rememberNonce(check.signature, now, inbound.tolerance * 2))) {
      throw reviewError('replayed', 'this signed request was already received: replay refused');
    }
    const body = parseJsonObject(req, text);
    const reviewId = optionalString(body, 'reviewId');
    const decision = optionalString(body, 'decision');
    const approver = optionalString(body, 'approver');
    const reason = optionalString(body, 'reason');
    if (reviewId === undefined || approver === undefined || (decision !== 'approve' && decision !== 'deny')) {
      throw new GatehouseError('request.invalid', 'give reviewId, approver and decision ("approve" or "deny")');
    }
    const review = await this.options.approvals.decide(
      reviewId,
      { issuer: inbound.issuer, subject: approver, groups: inbound.groups },
      decision,
      { ...(reason === undefined ? {} : { reason }), via: 'webhook' },
    );
    sendJson(res, 200, { review });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function visibleTo(review: Review, identity: Identity): boolean {
  const own = review.requester.issuer === identity.issuer && review.requester.subject === identity.subject;
  return own || identity.groups.some((g) => review.approverGroups.includes(g));
}
