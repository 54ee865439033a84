import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import type { StoreDialect } from '../core/store-dialect.js';
import type { Store } from '../store/store.js';
import type { BucketKey } from './buckets.js';
import type { QuotaSchema } from './tables.js';

/** One bucket's row as `quotas show` and refusals report it. */
export interface BucketUsage {
  readonly budget: string;
  readonly bucket: string;
  readonly windowStart: number;
  readonly windowMs: number;
  readonly tokenLimit: number | null;
  readonly requestLimit: number | null;
  readonly usedTokens: number;
  readonly reservedTokens: number;
  readonly usedRequests: number;
  readonly reservedRequests: number;
}

/** What a settlement moves: the reservation out, the real usage in. */
export interface Settlement {
  readonly reservedTokens: number;
  readonly usedTokens: number;
  /** 1 when the call ran (it counts as a request), 0 when it failed before reaching the upstream. */
  readonly requests: number;
}

const SQLITE_BUSY_RETRIES = 5;

/**
 * The quota tables' SQL, for both dialects. Atomicity:
 * - SQLite: one UPDATE statement reserves in every bucket or in none. SQLite runs a statement under the database's
 *   single write lock, and the `not exists` guard is an uncorrelated subquery evaluated once per statement, so no
 *   other writer can interleave. A multi-statement Kysely transaction is avoided on purpose: the audit appender uses
 *   the same better-sqlite3 connection directly, and its commits would land inside (and roll back with) ours.
 * - PostgreSQL: a transaction locks the buckets' rows in key order (`for update`), checks them and updates them.
 */
export class QuotaStore {
  private readonly db: Kysely<QuotaSchema>;
  private readonly dialect: StoreDialect;
  /** Buckets known to exist with these limits: skips the upsert on the hot path. Bounded. */
  private readonly ensured = new Map<string, string>();

  constructor(store: Pick<Store, 'dialect' | 'kysely'>) {
    this.db = store.kysely as unknown as Kysely<QuotaSchema>;
    this.dialect = store.dialect;
  }

  /** Adds `tokens` and one request to every bucket's reservations if all of them have room; true when it did. */
  async reserve(keys: readonly BucketKey[], tokens: number, now: number): Promise<boolean> {
    if (keys.length === 0) return true;
    if (this.dialect === 'postgres') {
      return this.db.transaction().execute(async (trx) => {
        await this.ensure(trx, keys, now, false);
        let rows = await lockInOrder(trx, keys);
        if (rows.length !== keys.length) {
          await this.ensure(trx, keys, now, true);
          rows = await lockInOrder(trx, keys);
        }
        if (rows.length !== keys.length || !rows.every((row) => fits(toUsage(row), tokens))) return false;
        await this.addReservation(trx, keys, tokens, now);
        return true;
      });
    }
    await this.ensure(this.db, keys, now, false);
    const guard = sql<boolean>`not exists (select 1 from quota_usage q where (${matchAnySql(keys, 'q')}) and (
      (q.token_limit is not null and q.used_tokens + q.reserved_tokens + ${tokens} > q.token_limit) or
      (q.request_limit is not null and q.used_requests + q.reserved_requests + 1 > q.request_limit)))`;
    const result = await retryBusy(() =>
      this.db
        .updateTable('quota_usage')
        .set(() => ({
          reserved_tokens: sql<number>`reserved_tokens + ${tokens}`,
          reserved_requests: sql<number>`reserved_requests + ${1}`,
          updated_at: now,
        }))
        .where(matchAny(keys))
        .where(guard)
        .executeTakeFirst(),
    );
    const updated = Number(result.numUpdatedRows);
    if (updated !== 0 && updated !== keys.length) throw new Error('quota reservation updated some buckets only');
    return updated === keys.length;
  }

  /**
   * Replaces a reservation with what the call used, in one statement over every bucket. On PostgreSQL the rows are
   * locked in key order first, like `reserve` does: a multi-row UPDATE locks in scan order, which could deadlock
   * against a reservation holding the same rows in the other order.
   */
  async settle(keys: readonly BucketKey[], settlement: Settlement, now: number): Promise<void> {
    if (keys.length === 0) return;
    if (this.dialect === 'postgres' && keys.length > 1) {
      await this.db.transaction().execute(async (trx) => {
        await lockInOrder(trx, keys);
        await applySettlement(trx, keys, settlement, now);
      });
      return;
    }
    await retryBusy(() => applySettlement(this.db, keys, settlement, now));
  }

  async read(keys: readonly BucketKey[]): Promise<BucketUsage[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.selectFrom('quota_usage').selectAll().where(matchAny(keys)).execute();
    return rows.map(toUsage);
  }
  /** Rows of windows that have not ended at `now` (or all, with `all`), for `quotas show`. */
  async list(now: number, all = false): Promise<BucketUsage[]> {
    let query = this.db
      .selectFrom('quota_usage')
      .selectAll()
      .orderBy('budget')
      .orderBy('bucket')
      .orderBy('window_start');
    if (!all) query = query.where(sql<boolean>`window_start + window_ms > ${now}`);
    return (await query.execute()).map(toUsage);
  }

  private async ensure(
    db: Kysely<QuotaSchema> | Transaction<QuotaSchema>,
    keys: readonly BucketKey[],
    now: number,
    force: boolean,
  ) {
    const missing = keys.filter((k) => force || this.ensured.get(cacheKey(k)) !== limits(k));
    if (missing.length === 0) return;
    await retryBusy(() =>
      db
        .insertInto('quota_usage')
        .values(
          missing.map((k) => ({
            budget: k.budget,
            bucket: k.bucket,
            window_start: k.windowStart,
            window_ms: k.windowMs,
            token_limit: k.tokenLimit,
            request_limit: k.requestLimit,
            used_tokens: 0,
            reserved_tokens: 0,
            used_requests: 0,
            reserved_requests: 0,
            updated_at: now,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['budget', 'bucket', 'window_start']).doUpdateSet((eb) => ({
            token_limit: eb.ref('excluded.token_limit'),
            request_limit: eb.ref('excluded.request_limit'),
          })),
        )
        .execute(),
    );
    if (this.ensured.size > 10_000) this.ensured.clear();
    for (const k of missing) this.ensured.set(cacheKey(k), limits(k));
  }

  private async addReservation(db: Transaction<QuotaSchema>, keys: readonly BucketKey[], tokens: number, now: number) {
    await db
      .updateTable('quota_usage')
      .set(() => ({
        reserved_tokens: sql<number>`reserved_tokens + ${tokens}`,
        reserved_requests: sql<number>`reserved_requests + ${1}`,
        updated_at: now,
      }))
      .where(matchAny(keys))
      .execute();
  }
}

export function fits(row: BucketUsage, tokens: number): boolean {
  if (row.tokenLimit !== null && row.usedTokens + row.reservedTokens + tokens > row.tokenLimit) return false;
  if (row.requestLimit !== null && row.usedRequests + row.reservedRequests + 1 > row.requestLimit) return false;
  return true;
}

function cacheKey(k: BucketKey): string {
  return `${k.budget}\u0000${k.bucket}\u0000${k.windowStart}`;
}

function limits(k: BucketKey): string {
  return `${k.tokenLimit}/${k.requestLimit}`;
}

// biome-ignore lint/suspicious/noExplicitAny: the expression builder type of a where callback over quota_usage
function matchAny(keys: readonly BucketKey[]): (eb: any) => any {
  return (eb) =>
    eb.or(
      keys.map((k) =>
        eb.and([eb('budget', '=', k.budget), eb('bucket', '=', k.bucket), eb('window_start', '=', k.windowStart)]),
      ),
    );
}

function matchAnySql(keys: readonly BucketKey[], alias: string): RawBuilder<boolean> {
  return sql.join(
    keys.map(
      (k) =>
        sql`(${sql.ref(`${alias}.budget`)} = ${k.budget} and ${sql.ref(`${alias}.bucket`)} = ${k.bucket} and ${sql.ref(`${alias}.window_start`)} = ${k.windowStart})`,
    ),
    sql` or `,
  ) as RawBuilder<boolean>;
}

function toUsage(row: QuotaSchema['quota_usage'] extends infer T ? { [K in keyof T]: unknown } : never): BucketUsage {
  const n = (value: unknown) => Number(value);
  const nullable = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    budget: String(row.budget),
    bucket: String(row.bucket),
    windowStart: n(row.window_start),
    windowMs: n(row.window_ms),
    tokenLimit: nullable(row.token_limit),
    requestLimit: nullable(row.request_limit),
    usedTokens: n(row.used_tokens),
    reservedTokens: n(row.reserved_tokens),
    usedRequests: n(row.used_requests),
    reservedRequests: n(row.reserved_requests),
  };
}

/** Another process holding SQLite's write lock past busy_timeout: try again a few times before failing. */
async function retryBusy<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= SQLITE_BUSY_RETRIES || (code !== 'SQLITE_BUSY' && code !== 'SQLITE_BUSY_SNAPSHOT')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * (attempt + 1)));
    }
  }
}

function lockInOrder(trx: Transaction<QuotaSchema>, keys: readonly BucketKey[]) {
  return trx
    .selectFrom('quota_usage')
    .selectAll()
    .where(matchAny(keys))
    .orderBy('budget')
    .orderBy('bucket')
    .orderBy('window_start')
    .forUpdate()
    .execute();
}

async function applySettlement(
  db: Kysely<QuotaSchema> | Transaction<QuotaSchema>,
  keys: readonly BucketKey[],
  settlement: Settlement,
  now: number,
): Promise<void> {
  await db
    .updateTable('quota_usage')
    .set(() => ({
      reserved_tokens: sql<number>`reserved_tokens - ${settlement.reservedTokens}`,
      reserved_requests: sql<number>`reserved_requests - ${1}`,
      used_tokens: sql<number>`used_tokens + ${settlement.usedTokens}`,
      used_requests: sql<number>`used_requests + ${settlement.requests}`,
      updated_at: now,
    }))
    .where(matchAny(keys))
    .execute();
}
