import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Identity } from '../core/identity.js';
import type { Store } from '../store/store.js';
import { type BucketKey, bucketsFor } from './buckets.js';
import type { QuotasConfig } from './config.js';
import { type BucketUsage, fits, QuotaStore } from './quota-store.js';

/** What a call may cost at most, known before it runs. */
export interface QuotaEstimate {
  readonly promptTokens: number;
  /** The requested ceiling; undefined means the configured default. */
  readonly maxOutputTokens?: number;
}

/** Held between reserve and settle; settle it exactly once. */
export interface Reservation {
  readonly tokens: number;
  readonly keys: readonly BucketKey[];
  settled: boolean;
}

/** Why a reservation did not fit: the first budget (in key order) without room. The listener renders 429. */
export interface QuotaRefusal {
  readonly budget: string;
  readonly unit: 'tokens' | 'requests';
  readonly limit: number;
  /** Settled usage in the window. */
  readonly used: number;
  /** Held by calls in flight. */
  readonly reserved: number;
  /** What this call asked for. */
  readonly requested: number;
  /** Epoch ms when the window resets. */
  readonly resetAt: number;
}

export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly refusal: QuotaRefusal };

/** What the upstream reported; `failed` releases the reservation, `unknown` charges it whole. */
export type SettleOutcome = { readonly totalTokens: number } | 'failed' | 'unknown';

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
    const keys = bucketsFor(this.config.budgets, identity, resource, now);
    const tokens = Math.max(
      0,
      Math.ceil(estimate.promptTokens + (estimate.maxOutputTokens ?? this.config.defaultMaxOutputTokens)),
    );
    if (await this.store.reserve(keys, tokens, now)) return { ok: true, reservation: { tokens, keys, settled: false } };
    const rows = await this.store.read(keys);
    return { ok: false, refusal: refusalFor(keys, rows, tokens) };
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

/** The JSON the listener sends with 429 (and `retry-after: retryAfterSeconds`). */
export function quotaRefusalBody(refusal: QuotaRefusal, now: number): { body: object; retryAfterSeconds: number } {
  const retryAfterSeconds = Math.max(1, Math.ceil((refusal.resetAt - now) / 1000));
  return {
    retryAfterSeconds,
    body: {
      error: {
        type: 'gatehouse_error',
        code: 'quota.exceeded',
        message: `the ${refusal.budget} budget has no room for this call (${refusal.unit}: ${refusal.used} used, ${refusal.reserved} in flight, ${refusal.requested} requested, limit ${refusal.limit}); it resets at ${new Date(refusal.resetAt).toISOString()}`,
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
