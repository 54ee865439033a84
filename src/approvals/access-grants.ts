import type { Clock } from '../core/clock.js';
import type { KnownOperationKind } from '../core/operation.js';
import type { AccessGrant, GrantSource } from '../policy/grants.js';
import type { ReviewStore } from './review-store.js';

/**
 * The policy engine's view of approved access windows: an in-memory copy of the active grants, rebuilt from the store
 * when a window is approved here and on every poll (windows approved by other replicas). Expiry is checked by the
 * engine against the clock on every decision, so a window ends on time even between refreshes.
 */
export class AccessGrantCache implements GrantSource {
  private byResource = new Map<string, readonly AccessGrant[]>();
  /** Grant objects are reused across refreshes so the engine's compiled rules (keyed by object) stay valid. */
  private byReview = new Map<string, AccessGrant>();

  constructor(
    private readonly reviews: ReviewStore,
    private readonly clock: Clock,
  ) {}

  grantsFor(resource: string): readonly AccessGrant[] {
    return this.byResource.get(resource) ?? [];
  }

  /** Every grant currently held, for inspection. */
  all(): AccessGrant[] {
    return [...this.byReview.values()];
  }

  async refresh(): Promise<void> {
    const active = await this.reviews.activeAccess(this.clock.now());
    const byReview = new Map<string, AccessGrant>();
    const byResource = new Map<string, AccessGrant[]>();
    for (const review of active) {
      const access = review.access;
      if (access === undefined || review.validUntil === undefined) continue;
      const grant =
        this.byReview.get(review.id) ??
        ({
          reviewId: review.id,
          resource: access.resource,
          kind: access.kind as KnownOperationKind,
          expiresAt: review.validUntil,
          ...(access.scope === 'group' && access.group !== undefined
            ? { group: access.group }
            : { issuer: review.requester.issuer, subject: review.requester.subject }),
        } satisfies AccessGrant);
      byReview.set(review.id, grant);
      const list = byResource.get(grant.resource) ?? [];
      list.push(grant);
      byResource.set(grant.resource, list);
    }
    this.byReview = byReview;
    this.byResource = byResource;
  }
}
