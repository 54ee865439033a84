import type { Kysely } from 'kysely';
import type { AuditEvent, AuditEventInput, SessionSummary } from '../audit/event.js';
import type { StoreDialect, StoreSchema } from './migrations.js';

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
   * durable; rejects (and stores none of them) otherwise. Also maintains the session index (counts, end time).
   */
  appendEvents(events: readonly AuditEventInput[]): Promise<readonly AuditEvent[]>;
  listSessions(query: SessionQuery): Promise<readonly SessionSummary[]>;
  /** Sessions whose id starts with `idPrefix` are found too, when the prefix is unambiguous. */
  getSession(idPrefix: string): Promise<{ summary: SessionSummary; events: readonly AuditEvent[] } | undefined>;
  /** Every event in id order, for verification and export; `afterId` pages through. */
  readEvents(afterId: number, limit: number): Promise<readonly AuditEvent[]>;
  /** Cheap check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
