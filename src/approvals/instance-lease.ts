import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Kysely, sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';
import type { ApprovalsSchema } from './review-tables.js';

/** How often an instance renews its lease, and how long a lease outlives its last renewal. */
const HEARTBEAT_MS = 1_000;
export const LEASE_MS = 5_000;

/**
 * This gateway process's row in `gateway_instances`: registered at start, renewed by a heartbeat (a write: it also
 * tells whether the store accepts writes), marked stopped at shutdown. Reviews record the instance holding their
 * waiting caller; a review whose holder's lease lapsed (crash, SIGKILL, lost host) is orphaned.
 */
export class InstanceLease {
  readonly id = `gw_${randomUUID()}`;
  private readonly db: Kysely<ApprovalsSchema>;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  /** Refused events already persisted (see `refusedSoFar`). */
  private persistedRefusals = 0;
  /**
   * Start of this instance's current run of successful heartbeats. Others' leases are judged only once it is
   * `LEASE_MS` old: after an outage of the store every lease looks lapsed until its holder had a chance to renew.
   */
  private healthySince: number | undefined;
  /** Whether the last heartbeat write succeeded, and why not when it failed. */
  private lastBeat: { readonly ok: boolean; readonly error?: string } = { ok: true };

  /** `refusedSoFar`: the recorder's running count of refused events; each heartbeat persists what it added. */
  constructor(
    store: Pick<Store, 'kysely'>,
    private readonly clock: Clock,
    private readonly refusedSoFar: () => number = () => 0,
  ) {
    this.db = store.kysely as unknown as Kysely<ApprovalsSchema>;
  }

  /** Registers this instance and renews its lease every `HEARTBEAT_MS` until `stop`. */
  async start(): Promise<void> {
    await this.register();
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Undefined while the store accepts this instance's writes; otherwise why the last heartbeat failed. */
  get writeFailure(): string | undefined {
    return this.lastBeat.ok ? undefined : (this.lastBeat.error ?? 'the store refused a write');
  }

  /** One renewal now (also run by the timer); never throws: the failure is kept for `writeFailure`. */
  heartbeat(): Promise<void> {
    this.beating ??= (async () => {
      const total = this.refusedSoFar();
      try {
        await this.beat(total - this.persistedRefusals);
        this.persistedRefusals = total;
        if (!this.lastBeat.ok || this.healthySince === undefined) this.healthySince = this.clock.now();
        this.lastBeat = { ok: true };
      } catch (error) {
        this.lastBeat = { ok: false, error: error instanceof Error ? error.message : String(error) };
      } finally {
        this.beating = undefined;
      }
    })();
    return this.beating;
  }

  private async register(): Promise<void> {
    const now = this.clock.now();
    this.healthySince = now;
    await this.db
      .insertInto('gateway_instances')
      .values({
        id: this.id,
        host: hostname(),
        pid: process.pid,
        started_at: now,
        heartbeat_at: now,
        stopped_at: null,
        refused_events: 0,
      })
      .execute();
  }

  /** Renews the lease, adding `refused` to the persisted count of refused audit events. Throws when the write fails. */
  private async beat(refused = 0): Promise<void> {
    await this.db
      .updateTable('gateway_instances')
      .set({
        heartbeat_at: this.clock.now(),
        ...(refused > 0 ? { refused_events: sql<number>`refused_events + ${refused}` } : {}),
      })
      .where('id', '=', this.id)
      .execute();
  }

  /** Stops the heartbeat and marks the instance stopped, persisting the last refusals. Best effort. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.heartbeat();
    await this.db
      .updateTable('gateway_instances')
      .set({ stopped_at: this.clock.now() })
      .where('id', '=', this.id)
      .execute();
  }

  /**
   * Pending reviews held by an instance that stopped or whose lease lapsed (not this one). None until this instance
   * has renewed its own lease for `LEASE_MS` (see `healthySince`).
   */
  async orphanedReviews(): Promise<string[]> {
    const now = this.clock.now();
    if (!this.lastBeat.ok || this.healthySince === undefined || now - this.healthySince < LEASE_MS) return [];
    const liveSince = now - LEASE_MS;
    const rows = await this.db
      .selectFrom('reviews')
      .select('id')
      .where('state', '=', 'pending')
      .where('holder', 'is not', null)
      .where('holder', '!=', this.id)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('gateway_instances as g')
              .select('g.id')
              .whereRef('g.id', '=', 'reviews.holder')
              .where('g.stopped_at', 'is', null)
              .where('g.heartbeat_at', '>', liveSince),
          ),
        ),
      )
      .limit(500)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Pending reviews this instance holds callers for. */
  async heldReviews(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('reviews')
      .select('id')
      .where('state', '=', 'pending')
      .where('holder', '=', this.id)
      .execute();
    return rows.map((r) => r.id);
  }
}
