import { claimValue } from '../core/claim-path.js';
import type { Identity } from '../core/identity.js';
import type { BudgetConfig } from './config.js';
import { MICRO_USD_PER_USD } from './usd-budgets.js';

/** One budget's bucket for one caller, in the window that contains `now`. */
export interface BucketKey {
  readonly budget: string;
  readonly bucket: string;
  readonly windowStart: number;
  readonly windowMs: number;
  /** Tokens; micro-dollars for a money budget (`unit: 'usd'`). */
  readonly tokenLimit: number | null;
  readonly requestLimit: number | null;
  /** A money budget: its bucket counts micro-dollars (usd-budgets.ts). */
  readonly unit?: 'usd';
}

/** Fixed windows aligned to the epoch: a `1h` window runs from one full hour (UTC) to the next. */
export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

/**
 * The buckets a call of `identity` on `resource` counts against, sorted by (budget, bucket) so every writer locks rows
 * in the same order. A `claim` budget does not apply to tokens without that claim (they are another kind of workload:
 * the claim is signed by the issuer, so a caller cannot drop it to escape), nor a `group` budget to non-members.
 */
export function bucketsFor(
  budgets: readonly BudgetConfig[],
  identity: Pick<Identity, 'issuer' | 'subject' | 'groups' | 'claims'>,
  resource: string,
  now: number,
): BucketKey[] {
  const keys: BucketKey[] = [];
  for (const budget of budgets) {
    if (budget.resources !== undefined && !budget.resources.includes(resource)) continue;
    let bucket: string | undefined;
    if (budget.per === 'subject') bucket = `subject:${identity.issuer} ${identity.subject}`;
    else if (budget.group !== undefined)
      bucket = identity.groups.includes(budget.group) ? `group:${budget.group}` : undefined;
    else if (budget.claim !== undefined) {
      const value = claimValue(identity.claims, budget.claim);
      if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) bucket = `claim:${value}`;
    }
    if (bucket === undefined) continue;
    keys.push({
      budget: budget.name,
      bucket,
      windowStart: windowStart(now, budget.window),
      windowMs: budget.window,
      tokenLimit: budget.usd === undefined ? (budget.tokens ?? null) : Math.round(budget.usd * MICRO_USD_PER_USD),
      requestLimit: budget.requests ?? null,
      ...(budget.usd === undefined ? {} : { unit: 'usd' as const }),
    });
  }
  return keys.sort((a, b) => (a.budget === b.budget ? cmp(a.bucket, b.bucket) : cmp(a.budget, b.budget)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
