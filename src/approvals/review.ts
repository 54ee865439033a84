import type { ThresholdExceeded } from '../core/decision.js';
import type { KnownOperationKind, ProtocolName, RiskTag } from '../core/operation.js';

/** Where a review is in its life. Only `pending` can be decided; only `approved` can be executed. */
export const REVIEW_STATES = ['pending', 'approved', 'denied', 'expired', 'withdrawn', 'executed'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

/**
 * Review events as they appear in the audit log (`type: review`, `payload.event`) and in notifications. `approval`
 * is one approver's approval of a review that needs more; the others are state changes.
 */
export type ReviewEvent = 'created' | 'approval' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'executed';

/** `operation`: one held operation; `access`: a requested access window. */
export type ReviewKind = 'operation' | 'access';

export interface ReviewRequester {
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly tokenId: string;
  /** The session whose audit timeline carries this review's events. */
  readonly sessionId: string;
}

/**
 * Exactly what would run, as the listener saw it. The fingerprint is computed from this (plus identity and resource),
 * so a re-sent HTTP request matches its approval only when it is the same request.
 */
export type ExactOperation =
  | {
      readonly protocol: 'postgres';
      readonly sql: string;
      /** Bind parameters of an extended-protocol execution, as text (null for SQL NULL). */
      readonly parameters?: readonly (string | null)[];
    }
  | {
      readonly protocol: 'http';
      readonly method: string;
      /** Path as the caller sent it (including the resource's prefix), without the query. */
      readonly path: string;
      /** Raw query string without `?`, '' when none. */
      readonly query: string;
      readonly body?: Buffer | string;
      readonly contentType?: string;
    }
  | {
      readonly protocol: 'mcp';
      /** JSON-RPC method: `tools/call`, `resources/read`, `prompts/get`. */
      readonly method: string;
      /** Tool or prompt name, or resource URI. */
      readonly target: string;
      /** The arguments as canonical JSON (keys sorted), as they would go upstream. */
      readonly arguments: string;
    };

/** What approvers are shown of the operation: never the raw body beyond a bounded excerpt. */
export interface ReviewedOperation {
  readonly protocol: ProtocolName;
  readonly resource: string;
  readonly kind: string;
  readonly tags: readonly RiskTag[] | readonly string[];
  readonly action: string;
  /** SQL statement, or `METHOD /path?query`. */
  readonly text: string;
  readonly bodyExcerpt?: string;
  readonly bodySha256?: string;
  readonly bodyBytes?: number;
  /** True when the excerpt is shorter than the body. */
  readonly bodyTruncated?: boolean;
}

/** Why policy asked for the review. */
export interface ReviewCause {
  readonly ruleId: string;
  readonly selector: string;
  readonly reason: string;
  readonly message: string;
  /** Set when a rule's threshold sent the operation to review: the figure and the limit it is over. */
  readonly threshold?: ThresholdExceeded;
}

/**
 * `estimated rows 12000 over maxRows 1000`, for approvers. A figure that could not be bounded (a cancelled EXPLAIN,
 * a store that cannot count) is Infinity, `unbounded`; JSON (the API, webhooks) carries it as null.
 */
export function thresholdText(threshold: ThresholdExceeded): string {
  const value = figureText(threshold.value, 'unbounded');
  return `estimated ${threshold.figure} ${value} over ${threshold.limitName} ${figureText(threshold.limit, 'no limit')}`;
}

function figureText(value: number | null, infinite: string): string {
  return value === null || value === Number.POSITIVE_INFINITY ? infinite : String(value);
}

/** A cause read back from JSON, which has no Infinity (it stores null): an unbounded figure is Infinity again. */
export function reviveCause(cause: ReviewCause): ReviewCause {
  const threshold = cause.threshold as (Omit<ThresholdExceeded, 'value' | 'limit'> & JsonFigures) | undefined;
  if (threshold === undefined || (threshold.value !== null && threshold.limit !== null)) return cause;
  return {
    ...cause,
    threshold: {
      ...threshold,
      value: threshold.value ?? Number.POSITIVE_INFINITY,
      limit: threshold.limit ?? Number.POSITIVE_INFINITY,
    },
  };
}

interface JsonFigures {
  readonly value: number | null;
  readonly limit: number | null;
}

/** The access window an `access` review asks for. */
export interface AccessRequest {
  readonly resource: string;
  readonly kind: KnownOperationKind;
  readonly durationMs: number;
  /** `group`: every member of `group` gets the access; `identity`: only the requester. */
  readonly scope: 'identity' | 'group';
  readonly group?: string;
}

export interface ReviewDecisionRecord {
  readonly verdict: 'approve' | 'deny';
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly reason?: string;
  readonly at: number;
  /** `api` (REST, CLI, web page) or `webhook` (inbound chat-ops decision). */
  readonly via: 'api' | 'webhook';
}

export interface Review {
  readonly id: string;
  readonly kind: ReviewKind;
  readonly state: ReviewState;
  readonly requester: ReviewRequester;
  readonly operation: ReviewedOperation;
  readonly cause: ReviewCause;
  readonly approverGroups: readonly string[];
  readonly approvalsRequired: number;
  readonly fingerprint: string;
  /** The requester's own words (access requests). */
  readonly requestReason?: string;
  readonly access?: AccessRequest;
  readonly createdAt: number;
  /** A pending review expires (is no longer decidable) at this instant. */
  readonly expiresAt: number;
  readonly decidedAt?: number;
  /**
   * Approved reviews: an operation may run (once) until then; an access window grants until then. Past it, an
   * unused approval or an ended window becomes `expired`.
   */
  readonly validUntil?: number;
  readonly executedAt?: number;
  readonly decisions: readonly ReviewDecisionRecord[];
}

/** Who decides: a verified token's identity, or a chat-ops bot's asserted approver. */
export interface Approver {
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
}
