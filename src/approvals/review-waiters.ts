import type { Clock } from '../core/clock.js';
import { type ApprovalOutcome, outcomeOf } from './approval-outcome.js';
import type { Review } from './review.js';
import type { ReviewStore } from './review-store.js';

export type Settled =
  | { readonly kind: 'decided'; readonly outcome: ApprovalOutcome }
  | { readonly kind: 'timeout'; readonly review: Review }
  | { readonly kind: 'aborted'; readonly review: Review }
  | { readonly kind: 'stopping'; readonly review: Review };

interface Waiter {
  readonly review: Review;
  settle(settled: Settled): void;
}

/**
 * Callers held for a decision, by review id. A change made in this process wakes them at once (`changed`); `poll`
 * reads the states of the reviews still waited on, for decisions made by another replica.
 */
export class ReviewWaiters {
  private readonly waiting = new Map<string, Set<Waiter>>();

  constructor(
    private readonly reviews: ReviewStore,
    private readonly clock: Clock,
  ) {}

  /**
   * Holds until `review` is settled (here or elsewhere), the wait ends, the signal aborts or the gateway stops. The
   * review passed in is the caller's latest copy; the store is read once more after registering.
   */
  async wait(
    review: Review,
    waitMs: number,
    signal: AbortSignal | undefined,
    stopped: () => boolean,
  ): Promise<Settled> {
    const id = review.id;
    const decided = outcomeOf(review);
    if (decided !== undefined) return { kind: 'decided', outcome: decided };
    if (stopped()) return { kind: 'stopping', review };
    if (signal?.aborted) return { kind: 'aborted', review };
    return new Promise<Settled>((resolve) => {
      let done = false;
      const ms = Math.max(0, Math.min(waitMs, review.expiresAt - this.clock.now()));
      const timer = setTimeout(() => waiter.settle({ kind: 'timeout', review }), ms);
      const onAbort = () => waiter.settle({ kind: 'aborted', review });
      const waiter: Waiter = {
        review,
        settle: (settled) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const set = this.waiting.get(id);
          set?.delete(waiter);
          if (set?.size === 0) this.waiting.delete(id);
          resolve(settled);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const set = this.waiting.get(id) ?? new Set<Waiter>();
      set.add(waiter);
      this.waiting.set(id, set);
      // A decision may have landed between the read above and registering: look once more.
      void this.reviews.get(id).then(
        (latest) => {
          const outcome = latest === undefined ? undefined : outcomeOf(latest);
          if (outcome !== undefined) waiter.settle({ kind: 'decided', outcome });
        },
        () => undefined,
      );
    });
  }

  /** A review changed in this process: wake its waiters if it is settled. */
  changed(review: Review): void {
    const outcome = outcomeOf(review);
    if (outcome === undefined) return;
    for (const waiter of [...(this.waiting.get(review.id) ?? [])]) waiter.settle({ kind: 'decided', outcome });
  }

  /** Another replica changed review `id`: if a caller here waits on it, read it and wake the caller if settled. */
  async wake(id: string): Promise<void> {
    if (!this.waiting.has(id)) return;
    const review = await this.reviews.get(id);
    if (review !== undefined) this.changed(review);
  }

  /** Reads the reviews still waited on; wakes the waiters of those settled elsewhere. */
  async poll(): Promise<void> {
    const states = await this.reviews.statesOf([...this.waiting.keys()]);
    for (const [id, state] of states) {
      if (state === 'pending') continue;
      const review = await this.reviews.get(id);
      if (review !== undefined) this.changed(review);
    }
  }

  /** The gateway is stopping: every held caller is released with its review still pending. */
  stopAll(): void {
    for (const set of [...this.waiting.values()]) {
      for (const waiter of [...set]) waiter.settle({ kind: 'stopping', review: waiter.review });
    }
  }

  get size(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }
}
