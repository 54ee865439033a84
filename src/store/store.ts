import type { Kysely } from 'kysely';
import type { AuditEvent, AuditEventInput, SessionSummary } from '../audit/event.js';
import type { ChainHead, ChainLink } from './hash-chain.js';
import type { StoreDialect, StoreSchema } from './migrations.js';

export type { ChainHead } from './hash-chain.js';

/** "The chain reached event `eventId`, whose hash is `hash`", signed with the gateway's Ed25519 key. */
export interface SignedCheckpoint {
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
   * Cast it to the module's own schema type; the tables come from the shared migrations.
   */
  readonly kysely: Kysely<StoreSchema>;
  /** Creates or upgrades the schema. Called once before use. */
  migrate(): Promise<void>;
  /**
   * Appends events in order, in one transaction, extending the hash chain. Resolves only when the events are
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
  /** Every event in id order, for verification and export; `afterId` pages through. */
  readEvents(afterId: number, limit: number): Promise<readonly AuditEvent[]>;
  /** The last event of the chain, if any. */
  chainHead(): Promise<ChainHead | undefined>;
  /** The smallest event id recorded at or after `at` (epoch ms), for `--since` reads. */
  firstEventIdAt(at: number): Promise<number | undefined>;
  appendCheckpoint(checkpoint: SignedCheckpoint): Promise<void>;
  /** Every checkpoint, oldest first. */
  listCheckpoints(): Promise<readonly StoredCheckpoint[]>;
  /** The last event id a continuous-export sink acknowledged (0 before its first delivery). */
  exportCursor(sink: string): Promise<number>;
  saveExportCursor(sink: string, eventId: number, at: number): Promise<void>;
  putForensicCopy(copy: ForensicCopy): Promise<void>;
  forensicCopies(sessionId: string): Promise<readonly ForensicCopy[]>;
  /**
   * The last event id retention may remove: the events before the first event of any session active at or after
   * `cutoff`, never the chain head (appends continue from it). 0 when nothing may go.
   */
  retentionBoundary(cutoff: number): Promise<number>;
  /**
   * In one transaction: stores `anchor` (a signed checkpoint of event `throughId`), deletes every event up to it, and
   * the session rows and forensic copies no event refers to any more.
   */
  prune(throughId: number, anchor: SignedCheckpoint): Promise<PruneResult>;
  /** Cheap check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
