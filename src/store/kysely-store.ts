import type { Kysely } from 'kysely';
import type { AuditEvent, SessionSummary } from '../audit/event.js';
import { AuditTables } from './audit-tables.js';
import type { ChainHead } from './hash-chain.js';
import type { StoreDialect, StoreSchema } from './migrations.js';
import type { ForensicCopy, SessionQuery, SignedCheckpoint, StoredCheckpoint } from './store.js';
import { StoreReader } from './store-reader.js';

/**
 * What both stores answer the same way, through Kysely: reads, checkpoints, export cursors, forensic copies. Each
 * store adds its own hot path (appends, pruning) and connection handling.
 */
export abstract class KyselyStore {
  protected readonly reader: StoreReader;
  protected readonly tables: AuditTables;

  constructor(
    readonly kysely: Kysely<StoreSchema>,
    dialect: StoreDialect,
  ) {
    this.reader = new StoreReader(kysely, dialect);
    this.tables = new AuditTables(kysely);
  }

  listSessions(query: SessionQuery): Promise<readonly SessionSummary[]> {
    return this.reader.listSessions(query);
  }

  getSession(idPrefix: string): Promise<{ summary: SessionSummary; events: readonly AuditEvent[] } | undefined> {
    return this.reader.getSession(idPrefix);
  }

  readEvents(afterId: number, limit: number): Promise<readonly AuditEvent[]> {
    return this.reader.readEvents(afterId, limit);
  }

  chainHead(): Promise<ChainHead | undefined> {
    return this.tables.chainHead();
  }

  firstEventIdAt(at: number): Promise<number | undefined> {
    return this.tables.firstEventIdAt(at);
  }

  appendCheckpoint(checkpoint: SignedCheckpoint): Promise<void> {
    return this.tables.appendCheckpoint(checkpoint);
  }

  listCheckpoints(): Promise<readonly StoredCheckpoint[]> {
    return this.tables.listCheckpoints();
  }

  exportCursor(sink: string): Promise<number> {
    return this.tables.exportCursor(sink);
  }

  saveExportCursor(sink: string, eventId: number, at: number): Promise<void> {
    return this.tables.saveExportCursor(sink, eventId, at);
  }

  putForensicCopy(copy: ForensicCopy): Promise<void> {
    return this.tables.putForensicCopy(copy);
  }

  forensicCopies(sessionId: string): Promise<readonly ForensicCopy[]> {
    return this.tables.forensicCopies(sessionId);
  }

  retentionBoundary(cutoff: number): Promise<number> {
    return this.tables.retentionBoundary(cutoff);
  }
}
