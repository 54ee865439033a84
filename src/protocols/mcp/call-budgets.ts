import type { McpResourceConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { Identity } from '../../core/identity.js';
import { wildcardMatcher } from '../../policy/pattern.js';

/** A refused call: which budget, its limit and when its window ends. */
export interface BudgetRefusal {
  readonly budget: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly resetAt: number;
}

/**
 * Tool call budgets per identity per tool, in fixed windows, counted in this gateway's memory: a restart or another
 * replica starts its own count. Kept here rather than in quotas/, whose budgets count tokens and requests per
 * resource, not per tool. A call is counted when it is allowed to run, before it goes upstream.
 */
export class CallBudgets {
  private readonly budgets: readonly {
    id: string;
    matches: (tool: string) => boolean;
    calls: number;
    window: number;
  }[];
  /** `budget \0 issuer \0 subject \0 tool` -> window start and calls counted in it. */
  private readonly counts = new Map<string, { start: number; calls: number }>();

  constructor(
    resource: McpResourceConfig,
    private readonly clock: Clock,
  ) {
    this.budgets = resource.callBudgets.map((b, index) => ({
      id: `resources.${resource.name}.callBudgets[${index}]`,
      matches: wildcardMatcher(b.tools),
      calls: b.calls,
      window: b.window,
    }));
  }

  /** Counts the call against every budget naming the tool; refuses (counting nothing) when one has no room. */
  take(identity: Identity, tool: string): BudgetRefusal | undefined {
    if (this.budgets.length === 0) return undefined;
    const now = this.clock.now();
    const entries: { start: number; calls: number }[] = [];
    for (const budget of this.budgets) {
      if (!budget.matches(tool)) continue;
      const key = `${budget.id}\u0000${identity.issuer}\u0000${identity.subject}\u0000${tool}`;
      const start = now - (now % budget.window);
      let entry = this.counts.get(key);
      if (entry === undefined || entry.start !== start) {
        entry = { start, calls: 0 };
        this.counts.set(key, entry);
      }
      if (entry.calls >= budget.calls)
        return { budget: budget.id, limit: budget.calls, windowMs: budget.window, resetAt: start + budget.window };
      entries.push(entry);
    }
    for (const entry of entries) entry.calls++;
    this.prune(now);
    return undefined;
  }

  /** Drops counts of windows long over, so the map does not grow with every identity ever seen. */
  private prune(now: number): void {
    if (this.counts.size < 10_000) return;
    const longest = Math.max(...this.budgets.map((b) => b.window));
    for (const [key, entry] of this.counts) if (entry.start + longest < now) this.counts.delete(key);
  }
}
