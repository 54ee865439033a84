import type { Kysely } from 'kysely';
import type { AuditEvent, SessionSummary } from '../core/audit-event.js';
import type { StoreDialect } from '../core/store-dialect.js';
import { AuditTables } from './audit-tables.js';
import type { ChainHead, NamedChainHead } from './hash-chain.js';
import type { StoreSchema } from './migrations.js';
import type { ForensicCopy, SessionQuery, SignedCheckpoint, StoredCheckpoint } from './store.js';
import { StoreReader } from './store-reader.js';

/**
 * What both stores answer the same way, through Kysely: reads, checkpoints, export cursors, forensic copies. Each
 * store adds its own hot path (appends, pruning) and connection handling.
 */
export abstract class KyselyStore {
  protected readonly reader: StoreReader;
  protected readonly tables: AuditTables;

  /** The chain this store appends to (see `Store.chain`). */
  abstract readonly chain: string;

  constructor(
    readonly kysely: Kysely<StoreSchema>,
    dialect: StoreDialect,
  ) {
    this.reader = new StoreReader(kysely, dialect);
    this.tables = new AuditTables(kysely, dialect);
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

  readChain(chain: string, afterSeq: number, limit: number): Promise<readonly AuditEvent[]> {
    return this.reader.readChain(chain, afterSeq, limit);
  }

  listChains(): Promise<readonly string[]> {
    return this.tables.listChains();
  }

  chainHead(chain: string = this.chain): Promise<ChainHead | undefined> {
    return this.tables.chainHead(chain);
  }

  chainHeads(): Promise<readonly NamedChainHead[]> {
    return this.tables.chainHeads();
  }

  firstEventIdAt(at: number): Promise<number | undefined> {
    return this.tables.firstEventIdAt(at);
  }

  appendCheckpoint(checkpoint: SignedCheckpoint): Promise<void> {
    return this.tables.appendCheckpoint(checkpoint);
  }

  listCheckpoints(chain?: string): Promise<readonly StoredCheckpoint[]> {
    return this.tables.listCheckpoints(chain);
  }

  exportCursors(sink: string): Promise<ReadonlyMap<string, number>> {
    return this.tables.exportCursors(sink);
  }

  saveExportCursors(sink: string, cursors: ReadonlyMap<string, number>, at: number): Promise<void> {
    return this.tables.saveExportCursors(sink, cursors, at);
  }

  putForensicCopy(copy: ForensicCopy): Promise<void> {
    return this.tables.putForensicCopy(copy);
  }

  forensicCopies(sessionId: string): Promise<readonly ForensicCopy[]> {
    return this.tables.forensicCopies(sessionId);
  }

  retentionBoundary(chain: string, cutoff: number): Promise<number> {
    return this.tables.retentionBoundary(chain, cutoff);
  }
}
