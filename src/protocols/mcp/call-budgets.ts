import type { McpResourceConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { Identity } from '../../core/identity.js';
import { wildcardMatcher } from '../../policy/pattern.js';
import { type BucketKey, windowStart } from '../../quotas/buckets.js';
import { QuotaStore } from '../../quotas/quota-store.js';
import type { Store } from '../../store/store.js';

/** A refused call: which budget, its limit and when its window ends. */
export interface BudgetRefusal {
  readonly budget: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly resetAt: number;
}

/**
 * Tool call budgets per identity per tool, in fixed windows, counted in the store's quota table (quotas/), so every
 * replica on a shared store counts against the same buckets and two of them cannot both spend a budget's last call;
 * `gatehouse quotas show` lists them beside the token budgets. A call is counted when it is allowed to run, before it
 * goes upstream.
 */
export class CallBudgets {
  private readonly budgets: readonly {
    id: string;
    matches: (tool: string) => boolean;
    calls: number;
    window: number;
  }[];
  private readonly quota: QuotaStore;

  constructor(
    resource: McpResourceConfig,
    private readonly clock: Clock,
    store: Pick<Store, 'dialect' | 'kysely'>,
  ) {
    this.budgets = resource.callBudgets.map((b, index) => ({
      id: `resources.${resource.name}.callBudgets[${index}]`,
      matches: wildcardMatcher(b.tools),
      calls: b.calls,
      window: b.window,
    }));
    this.quota = new QuotaStore(store);
  }

  /** Counts the call against every budget naming the tool; refuses (counting nothing) when one has no room. */
  async take(identity: Identity, tool: string): Promise<BudgetRefusal | undefined> {
    if (this.budgets.length === 0) return undefined;
    const now = this.clock.now();
    const keys: BucketKey[] = this.budgets
      .filter((budget) => budget.matches(tool))
      .map((budget) => ({
        budget: budget.id,
        bucket: `subject:${identity.issuer} ${identity.subject} tool:${tool}`,
        windowStart: windowStart(now, budget.window),
        windowMs: budget.window,
        tokenLimit: null,
        requestLimit: budget.calls,
      }))
      // Every writer locks the rows in the same order (see bucketsFor).
      .sort((a, b) => (a.budget < b.budget ? -1 : a.budget > b.budget ? 1 : 0));
    if (keys.length === 0) return undefined;
    if (await this.quota.reserve(keys, 0, now)) {
      await this.quota.settle(keys, { reservedTokens: 0, usedTokens: 0, requests: 1 }, now);
      return undefined;
    }
    const usage = await this.quota.read(keys);
    const full =
      usage.find((row) => row.requestLimit !== null && row.usedRequests + row.reservedRequests >= row.requestLimit) ??
      usage[0];
    const key = keys.find((k) => k.budget === full?.budget) ?? (keys[0] as BucketKey);
    return {
      budget: key.budget,
      limit: key.requestLimit ?? 0,
      windowMs: key.windowMs,
      resetAt: key.windowStart + key.windowMs,
    };
  }
}
