import pg from 'pg';
import { GatehouseError } from '../../core/errors.js';
import {
  type ChainedEvent,
  type ChainHead,
  type ChainLink,
  chainSerialised,
  type SerialisedEvent,
} from '../hash-chain.js';
import type { SessionIndexChanges } from '../session-index.js';

/**
 * The advisory lock key of a chain: one per chain, so instances never wait for each other; a 64-bit hash of the
 * name (a collision between two instance names would only make one refuse to start).
 */
export const CHAIN_LOCK_SQL = `hashtextextended('gatehouse-chain:' || $1, 0)`;

/**
 * Appends a gateway instance's events to its own hash chain, on a connection of its own that holds the chain's
 * advisory lock for the life of the process: no lock is taken per append, the head is read once (when the chain is
 * claimed) and kept in memory, and a batch is one statement, so one round trip, committed when its answer comes.
 * Two processes given the same instance id cannot both hold the lock: the second is refused at start. The unique
 * (chain, seq) index is a second guard: a forked chain fails to insert rather than being stored.
 *
 * If the connection breaks, the lock goes with it and whether the last batch committed is unknown: the next append
 * reconnects, claims the chain again and re-reads the head from the store.
 */
export class ChainWriter {
  private client: pg.Client | undefined;
  private head: ChainHead | undefined;
  /** Batches are chained one after another: each links to the previous one's last hash. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly url: string,
    readonly chain: string,
  ) {}

  /** Connects, takes the chain's lock (refusing if another process holds it) and reads the chain's head. */
  async claim(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: `gatehouse ${this.chain}`,
      keepAlive: true,
      // The server drops the lock with the connection: if this host vanishes without closing it, keepalives let the
      // server notice within about 25 s, so the instance can start again elsewhere (a killed process closes at once).
      options: '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3',
    });
    // Without a listener a dropped connection's error would crash the process; the next append reconnects.
    client.on('error', () => {
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    try {
      const lock = await client.query<{ ok: boolean }>(`select pg_try_advisory_lock(${CHAIN_LOCK_SQL}) as ok`, [
        this.chain,
      ]);
      if (!lock.rows[0]?.ok) {
        throw new GatehouseError(
          'config.invalid',
          `audit chain "${this.chain}" is held by another running gateway process: each replica needs its own ` +
            'store.instanceId (or GATEHOUSE_INSTANCE_ID); two processes sharing one would fork its hash chain',
        );
      }
      await client.query(
        'insert into audit_chains (chain, indexed_seq) values ($1, 0) on conflict (chain) do nothing',
        [this.chain],
      );
      const head = await client.query<{ seq: string; hash: string }>(
        'select seq, hash from audit_events where chain = $1 order by seq desc limit 1',
        [this.chain],
      );
      const row = head.rows[0];
      this.head = row ? { seq: Number(row.seq), hash: row.hash } : undefined;
      this.client = client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Chains and writes a batch already serialised (by `serialiseEvents`, so a payload that is not JSON failed alone
   * before it came here) with the session index changes it makes.
   */
  append(serialised: readonly SerialisedEvent[], index: SessionIndexChanges): Promise<readonly ChainLink[]> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new GatehouseError('internal', 'the PostgreSQL store is closed');
      if (!this.client) await this.claim();
      const client = this.client as pg.Client;
      const chained = chainSerialised(this.head, serialised, this.chain);
      try {
        const result = await client.query<{ id: string; seq: string }>(appendStatement(chained, index, this.chain));
        const ids = new Map(result.rows.map((r) => [Number(r.seq), Number(r.id)]));
        const last = chained.at(-1) as ChainedEvent;
        this.head = { seq: last.seq, hash: last.hash };
        return chained.map(({ seq, prevHash, hash }) => ({
          id: ids.get(seq) as number,
          chain: this.chain,
          seq,
          prevHash,
          hash,
        }));
      } catch (error) {
        // A statement the server refused changed nothing, but the connection may be the thing that failed (a
        // terminated backend answers with an error too) and may have committed it or not: start again from the store.
        await this.drop(client);
        throw error;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    if (this.client) await this.drop(this.client);
  }

  private async drop(client: pg.Client): Promise<void> {
    if (this.client === client) this.client = undefined;
    this.head = undefined;
    await client.end().catch(() => undefined);
  }
}

/**
 * The one statement of a batch, with its array parameters: INSERT_EVENTS_SQL when the batch starts and ends no
 * session (most batches: a tenth less of the server's CPU per event than the whole APPEND_SQL), else APPEND_SQL.
 * Named, so each connection parses and plans each once and then only binds and executes it: about half the server's
 * CPU per event (bench/results/store-append.md).
 */
export function appendStatement(
  chained: readonly ChainedEvent[],
  index: SessionIndexChanges,
  chain: string,
): { name: string; text: string; values: unknown[] } {
  const { starts, deltas } = index;
  const events = [
    chain,
    chained.map((e) => e.seq),
    chained.map((e) => e.sessionId),
    chained.map((e) => e.type),
    chained.map((e) => e.at),
    chained.map((e) => e.payloadJson),
    chained.map((e) => e.prevHash),
    chained.map((e) => e.hash),
  ];
  if (starts.length === 0 && deltas.length === 0) {
    return { name: 'gatehouse_append_events', text: INSERT_EVENTS_SQL, values: events };
  }
  return {
    name: 'gatehouse_append',
    text: APPEND_SQL,
    values: [
      ...events,
      starts.map((s) => s.id),
      starts.map((s) => s.protocol),
      starts.map((s) => s.resource),
      starts.map((s) => s.issuer),
      starts.map((s) => s.subject),
      starts.map((s) => s.groups),
      starts.map((s) => s.startedAt),
      starts.map((s) => s.endedAt),
      deltas.map((d) => d.id),
      deltas.map((d) => d.endedAt),
    ],
  };
}

/** Inserts a batch's events (row ids from the table's sequence, in the batch's order); returns their row ids. */
const INSERT_EVENTS_SQL = `
  insert into audit_events (chain, seq, session_id, type, at, payload, prev_hash, hash)
  select $1, e.seq, e.session_id, e.type, e.at, e.payload, e.prev_hash, e.hash
  from unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
    with ordinality as e(seq, session_id, type, at, payload, prev_hash, hash, n)
  order by e.n
  returning id, seq`;

/**
 * One statement writes the batch: the events (row ids from the table's sequence, in the batch's order), the sessions
 * it starts (with the batch's counts folded in, since the parts of one statement cannot see each other's rows) and
 * the end times of sessions started earlier. Returns each event's row id.
 */
const APPEND_SQL = `
with inserted_events as (${INSERT_EVENTS_SQL}
), started_sessions as (
  insert into sessions (id, protocol, resource, issuer, subject, groups, started_at, ended_at)
  select * from unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[],
    $16::bigint[])
  on conflict (id) do update set ended_at = coalesce(excluded.ended_at, sessions.ended_at)
), ended_sessions as (
  update sessions set ended_at = coalesce(d.ended_at, sessions.ended_at)
  from unnest($17::text[], $18::bigint[]) as d(id, ended_at)
  where sessions.id = d.id
)
select id, seq from inserted_events`;
