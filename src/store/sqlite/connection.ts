import Database from 'better-sqlite3';

export interface ConnectionOptions {
  /**
   * `normal` (default): in WAL mode a commit is in the operating system's hands once it returns, so it survives the
   * gateway process crashing or being killed (SIGKILL, OOM), which is what the audit promises; only a power loss or
   * kernel crash can drop the last commits. `full` also fsyncs the WAL on every commit, surviving those too, at the
   * cost of one disk flush per group commit.
   */
  readonly synchronous?: 'normal' | 'full';
  /** How long to wait for another connection's write lock before failing. */
  readonly busyTimeoutMs?: number;
}

/** Sets a connection up the way every Gatehouse connection to the file works: WAL, the chosen durability, a busy wait. */
export function configureConnection(db: Database.Database, options: ConnectionOptions): Database.Database {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  return db;
}

export function openConnection(path: string, options: ConnectionOptions): Database.Database {
  return configureConnection(new Database(path), options);
}
