import type { Kysely } from 'kysely';
import type { AuditEvent, AuditEventInput, SessionSummary } from '../core/audit-event.js';
import type { StoreDialect } from '../core/store-dialect.js';
import type { ChainHead, ChainLink, NamedChainHead } from './hash-chain.js';
import type { StoreMigration, StoreSchema } from './migrations.js';

export type { ChainHead, NamedChainHead } from './hash-chain.js';

/** "Chain `chain` reached position `eventId`, whose hash is `hash`", signed with the gateway's Ed25519 key. */
export interface SignedCheckpoint {
  /** The chain signed: the instance that wrote it (`default` on SQLite and for older checkpoints). */
  readonly chain: string;
  /** The event's position in that chain (its `seq`; equal to its id on the default chain). */
  readonly eventId: number;
  readonly hash: string;
  /** Epoch ms when it was signed. */
  readonly at: number;
  /** `periodic`, `shutdown` or `prune`. */
  readonly reason: string;
  /** First 16 hex digits of the sha256 of the public key (SPKI DER). */
  readonly keyId: string;
  /** base64 Ed25519 signature over `checkpointMessage(...)`. */
  readonly signature: string;
}

export interface StoredCheckpoint extends SignedCheckpoint {
  readonly id: number;
}

/** One operation's unmasked response, sealed with AES-256-GCM; the store never sees the key. */
export interface ForensicCopy {
  readonly sessionId: string;
  readonly seq: number;
  readonly at: number;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

export interface PruneResult {
  readonly events: number;
  readonly sessions: number;
}

export interface SessionQuery {
  readonly limit: number;
  /** Only sessions started at or after this epoch-ms time. */
  readonly since?: number;
  readonly subject?: string;
}

/**
 * Durable storage behind the gateway: one interface, implemented by the embedded SQLite store and (for several
 * replicas) the PostgreSQL store, with one set of migrations.
 */
export interface Store {
  /** The dialect the store speaks; feature modules (reviews, quotas...) query their own tables through `kysely`. */
  readonly dialect: StoreDialect;
  /**
   * Typed query builder over the store's connection, for feature modules that own tables beyond the audit log.
   * Cast it to the module's own schema type; the module's tables come from the migrations it registers (`migrate`).
   */
  readonly kysely: Kysely<StoreSchema>;
  /**
   * Creates or upgrades the schema: the store's own tables and those of `features` (the modules that own tables
   * register theirs at composition, see src/gateway/store-migrations.ts). Called once before use.
   */
  migrate(features?: readonly StoreMigration[]): Promise<void>;
  /** The chain this store appends to: its gateway instance's (`default` on SQLite). */
  readonly chain: string;
  /**
   * Appends events in order, in one transaction, extending this store's hash chain. Resolves only when the events are
   * durable, with where each landed in the chain; rejects (and stores none of them) otherwise. Also records
   * sessions' starts and ends in the `sessions` table.
   */
  appendEvents(events: readonly AuditEventInput[]): Promise<readonly ChainLink[]>;
  /**
   * What the recorder calls: makes events durable, in order, checked as `appendEvents` checks them, without saying
   * where they land. The SQLite store writes them to its spool when it has one (reads see them after `settle`);
   * otherwise this is `appendEvents`.
   */
  recordEvents(events: readonly AuditEventInput[]): Promise<void>;
  /** Makes every event recorded so far readable (moves spooled events into the log); a no-op where none are held. */
  settle(): Promise<void>;
  /** Bytes of recorded events held in a spool, not yet in the log; undefined for a store that records without one. */
  spoolBacklogBytes?(): number | undefined;
  /** The store keeps its session index caught up itself (the SQLite spool's drainer does), so no SessionIndexer. */
  readonly indexesInBackground: boolean;
  /**
   * Brings the session index up to the chain head, at most `CATCH_UP_BATCH` events per call; returns how many event
   * ids it passed. Reads are right without it (they also scan the unindexed tail): call it periodically so that
   * tail stays short.
   */
  indexSessionEvents(): Promise<number>;
  listSessions(query: SessionQuery): Promise<readonly SessionSummary[]>;
  /** Sessions whose id starts with `idPrefix` are found too, when the prefix is unambiguous. */
  getSession(idPrefix: string): Promise<{ summary: SessionSummary; events: readonly AuditEvent[] } | undefined>;
  /** Every chain's events in row-id order (roughly time order across chains); `afterId` pages through. */
  readEvents(afterId: number, limit: number): Promise<readonly AuditEvent[]>;
  /** One chain's events in chain order, after position `afterSeq`: what verification and export walk. */
  readChain(chain: string, afterSeq: number, limit: number): Promise<readonly AuditEvent[]>;
  /** Every chain the store holds events or a registration of, sorted by name. */
  listChains(): Promise<readonly string[]>;
  /** The last event of a chain (this store's own when none is named), if any. */
  chainHead(chain?: string): Promise<ChainHead | undefined>;
  /** Every chain's last event. */
  chainHeads(): Promise<readonly NamedChainHead[]>;
  /** The smallest event id recorded at or after `at` (epoch ms), for `--since` reads. */
  firstEventIdAt(at: number): Promise<number | undefined>;
  appendCheckpoint(checkpoint: SignedCheckpoint): Promise<void>;
  /** Every checkpoint (of one chain, when named), oldest first. */
  listCheckpoints(chain?: string): Promise<readonly StoredCheckpoint[]>;
  /** The last position in each chain a continuous-export sink acknowledged (chains it never reached are absent). */
  exportCursors(sink: string): Promise<ReadonlyMap<string, number>>;
  /** Moves a sink's cursors forward in the given chains, in one statement each. */
  saveExportCursors(sink: string, cursors: ReadonlyMap<string, number>, at: number): Promise<void>;
  putForensicCopy(copy: ForensicCopy): Promise<void>;
  forensicCopies(sessionId: string): Promise<readonly ForensicCopy[]>;
  /**
   * The last position in `chain` retention may remove: the events before the chain's first event of any session
   * active at or after `cutoff`, never the chain's head (appends continue from it). 0 when nothing may go.
   */
  retentionBoundary(chain: string, cutoff: number): Promise<number>;
  /**
   * In one transaction: stores `anchor` (a signed checkpoint of position `throughSeq` of `anchor.chain`), deletes that
   * chain's events up to it, and the session rows and forensic copies no event refers to any more.
   */
  prune(throughSeq: number, anchor: SignedCheckpoint): Promise<PruneResult>;
  /** Cheap check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
