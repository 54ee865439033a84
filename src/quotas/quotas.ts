import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Identity } from '../core/identity.js';
import type { Store } from '../store/store.js';
import { type BucketKey, bucketsFor } from './buckets.js';
import type { QuotasConfig } from './config.js';
import { type BucketUsage, fits, QuotaStore } from './quota-store.js';
import { microUsd, microUsdOfTotal, splitByUnit, type TokenPrice } from './usd-budgets.js';

/** What a call may cost at most, known before it runs. */
export interface QuotaEstimate {
  readonly promptTokens: number;
  /** The requested ceiling; undefined means the configured default. */
  readonly maxOutputTokens?: number;
  /** The model's prices, for money budgets; a call without one is refused by any money budget that applies. */
  readonly price?: TokenPrice;
}

/** Held between reserve and settle; settle it exactly once. */
export interface Reservation {
  readonly tokens: number;
  readonly keys: readonly BucketKey[];
  settled: boolean;
  /** Money budgets' share: their buckets, the micro-dollars held, the prices to settle at. */
  readonly usd?: { readonly keys: readonly BucketKey[]; readonly microUsd: number; readonly price: TokenPrice };
}

/** Why a reservation did not fit: the first budget (in key order) without room. The listener renders 429. */
export interface QuotaRefusal {
  readonly budget: string;
  /** `usd` amounts are micro-dollars. */
  readonly unit: 'tokens' | 'requests' | 'usd';
  readonly limit: number;
  /** Settled usage in the window. */
  readonly used: number;
  /** Held by calls in flight. */
  readonly reserved: number;
  /** What this call asked for. */
  readonly requested: number;
  /** Epoch ms when the window resets. */
  readonly resetAt: number;
  /** Why, when it is not the amounts (a money budget and a model without a price). */
  readonly reason?: string;
}

export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly refusal: QuotaRefusal };

/** What the upstream reported; `failed` releases the reservation, `unknown` charges it whole. */
export type SettleOutcome =
  | { readonly totalTokens: number; readonly inputTokens?: number; readonly outputTokens?: number }
  | 'failed'
  | 'unknown';

/**
 * Token and request budgets. `reserve` holds the worst case (prompt estimate + output ceiling) in every applicable
 * bucket at once or refuses; `settle` swaps that hold for the real usage. Counts live in the store, so they survive
 * restarts and are shared by every gateway on one PostgreSQL store. A call can overspend only by its own reported
 * usage beyond its reservation (an estimate that was too low); concurrent calls cannot, since each holds its share.
 */
export class Quotas {
  private readonly store: QuotaStore;
  private readonly clock: Clock;

  constructor(
    private readonly config: QuotasConfig,
    store: Pick<Store, 'dialect' | 'kysely'>,
    clock: Clock = systemClock,
  ) {
    this.store = new QuotaStore(store);
    this.clock = clock;
  }

  get enabled(): boolean {
    return this.config.budgets.length > 0;
  }

  async reserve(
    identity: Pick<Identity, 'issuer' | 'subject' | 'groups' | 'claims'>,
    resource: string,
    estimate: QuotaEstimate,
  ): Promise<ReserveResult> {
    const now = this.clock.now();
    const all = bucketsFor(this.config.budgets, identity, resource, now);
    const output = estimate.maxOutputTokens ?? this.config.defaultMaxOutputTokens;
    const tokens = Math.max(0, Math.ceil(estimate.promptTokens + output));
    const { tokens: keys, usd } = splitByUnit(all);
    const { price } = estimate;
    if (usd.length > 0 && price === undefined) return { ok: false, refusal: unpriced(usd[0] as BucketKey) };
    if (!(await this.store.reserve(keys, tokens, now))) {
      return { ok: false, refusal: refusalFor(keys, await this.store.read(keys), tokens) };
    }
    if (usd.length === 0 || price === undefined) return { ok: true, reservation: { tokens, keys, settled: false } };
    // Money buckets are held in a second step; when they have no room, the token hold is released.
    const micro = microUsd(price, Math.max(0, estimate.promptTokens), output);
    if (!(await this.store.reserve(usd, micro, now))) {
      await this.store.settle(keys, { reservedTokens: tokens, usedTokens: 0, requests: 0 }, now);
      return { ok: false, refusal: { ...refusalFor(usd, await this.store.read(usd), micro), unit: 'usd' } };
    }
    return { ok: true, reservation: { tokens, keys, settled: false, usd: { keys: usd, microUsd: micro, price } } };
  }

  async settle(reservation: Reservation, outcome: SettleOutcome): Promise<void> {
    if (reservation.settled) return;
    reservation.settled = true;
    const usedTokens =
      outcome === 'failed'
        ? 0
        : outcome === 'unknown'
          ? reservation.tokens
          : Math.max(0, Math.ceil(outcome.totalTokens));
    await this.store.settle(
      reservation.keys,
      { reservedTokens: reservation.tokens, usedTokens, requests: outcome === 'failed' ? 0 : 1 },
      this.clock.now(),
    );
    const usd = reservation.usd;
    if (usd === undefined) return;
    const usedMicro =
      outcome === 'failed'
        ? 0
        : outcome === 'unknown'
          ? usd.microUsd
          : outcome.inputTokens !== undefined && outcome.outputTokens !== undefined
            ? microUsd(usd.price, outcome.inputTokens, outcome.outputTokens)
            : microUsdOfTotal(usd.price, outcome.totalTokens);
    await this.store.settle(
      usd.keys,
      { reservedTokens: usd.microUsd, usedTokens: usedMicro, requests: outcome === 'failed' ? 0 : 1 },
      this.clock.now(),
    );
  }

  /** Current windows' usage (all stored windows with `all`). */
  usage(all = false): Promise<BucketUsage[]> {
    return this.store.list(this.clock.now(), all);
  }
}

function refusalFor(keys: readonly BucketKey[], rows: readonly BucketUsage[], tokens: number): QuotaRefusal {
  for (const key of keys) {
    const row = rows.find(
      (r) => r.budget === key.budget && r.bucket === key.bucket && r.windowStart === key.windowStart,
    );
    if (!row || fits(row, tokens)) continue;
    const resetAt = row.windowStart + row.windowMs;
    const tokensShort = row.tokenLimit !== null && row.usedTokens + row.reservedTokens + tokens > row.tokenLimit;
    return tokensShort
      ? {
          budget: row.budget,
          unit: 'tokens',
          limit: row.tokenLimit as number,
          used: row.usedTokens,
          reserved: row.reservedTokens,
          requested: tokens,
          resetAt,
        }
      : {
          budget: row.budget,
          unit: 'requests',
          limit: row.requestLimit as number,
          used: row.usedRequests,
          reserved: row.reservedRequests,
          requested: 1,
          resetAt,
        };
  }
  // Another call settled between the refusal and the read: report the first budget as it stands now.
  const key = keys[0] as BucketKey;
  const row = rows[0];
  return {
    budget: key.budget,
    unit: 'tokens',
    limit: key.tokenLimit ?? 0,
    used: row?.usedTokens ?? 0,
    reserved: row?.reservedTokens ?? 0,
    requested: tokens,
    resetAt: key.windowStart + key.windowMs,
  };
}

function unpriced(key: BucketKey): QuotaRefusal {
  return {
    budget: key.budget,
    unit: 'usd',
    limit: key.tokenLimit ?? 0,
    used: 0,
    reserved: 0,
    requested: 0,
    resetAt: key.windowStart + key.windowMs,
    reason: 'the model has no price, so a budget in money cannot charge it',
  };
}

/** The JSON the listener sends with 429 (and `retry-after: retryAfterSeconds`). */
export function quotaRefusalBody(refusal: QuotaRefusal, now: number): { body: object; retryAfterSeconds: number } {
  const retryAfterSeconds = Math.max(1, Math.ceil((refusal.resetAt - now) / 1000));
  return {
    retryAfterSeconds,
    body: {
      error: {
        type: 'gatehouse_error',
        code: 'quota.exceeded',
        message: `the ${refusal.budget} budget has no room for this call (${refusal.reason === undefined ? '' : `${refusal.reason}; `}${refusal.unit}: ${refusal.used} used, ${refusal.reserved} in flight, ${refusal.requested} requested, limit ${refusal.limit}); it resets at ${new Date(refusal.resetAt).toISOString()}`,
        budget: refusal.budget,
        unit: refusal.unit,
        limit: refusal.limit,
        used: refusal.used,
        reserved: refusal.reserved,
        requested: refusal.requested,
        reset_at: new Date(refusal.resetAt).toISOString(),
      },
    },
  };
}
