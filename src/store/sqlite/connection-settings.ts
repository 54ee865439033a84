import type Database from 'better-sqlite3';

/** The page size of a new database file. */
export const PAGE_BYTES = 16_384;

/** WAL bytes between automatic checkpoints: SQLite's default (1,000 pages) at its default 4 KiB page. */
const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

export interface ConnectionSettings {
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly busyTimeoutMs: number;
}

/**
 * The per-connection settings every connection to the store's file uses: the gateway's, and the spool thread's. The
 * WAL is checkpointed every 4 MiB whatever the file's page size (a checkpoint runs in whichever connection commits).
 */
export function applyConnectionSettings(db: Database.Database, settings: ConnectionSettings): void {
  db.pragma(`synchronous = ${settings.synchronous}`);
  db.pragma(`busy_timeout = ${settings.busyTimeoutMs}`);
  const pageBytes = Number(db.pragma('page_size', { simple: true }));
  db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.round(WAL_CHECKPOINT_BYTES / pageBytes))}`);
}
