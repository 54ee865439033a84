import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';

/** How often the checkpointer folds the WAL into the database file. */
const DEFAULT_INTERVAL_MS = 250;
/** SQLite's own default: a connection that commits checkpoints once the WAL holds this many pages. */
const AUTO_CHECKPOINT_PAGES = 1000;

/**
 * Moves WAL checkpoints off the event loop. A checkpoint copies the WAL's pages into the database file and fsyncs
 * it; run by SQLite inside whichever commit crosses the WAL size limit, it stalls that commit, and with it every
 * connection the gateway is relaying, for the length of an fsync (measured here: a third of the average commit's wall
 * time). A worker thread with its own connection checkpoints on a timer instead (PASSIVE: never blocks a writer), and
 * the gateway's connection stops checkpointing. Should the thread die, the connection checkpoints itself again.
 *
 * The thread's code is plain CommonJS on better-sqlite3 alone: it needs nothing of the gateway's sources.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private stopped = false;
  private exited = false;

  constructor(
    private readonly db: Database.Database,
    options: { readonly intervalMs?: number; readonly busyTimeoutMs?: number; readonly logger?: Logger } = {},
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver,
        path: db.name,
        intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      },
    });
    this.worker.unref();
    db.pragma('wal_autocheckpoint = 0');
    const fallBack = (reason: string) => {
      if (this.stopped || !db.open) return;
      options.logger?.warn({ reason }, 'the SQLite checkpoint thread stopped; the store checkpoints inline again');
      db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    };
    this.worker.on('error', (error) => fallBack(error.message));
    this.worker.on('exit', (code) => {
      this.exited = true;
      fallBack(`exit code ${code}`);
    });
  }

  /** Stops the thread after a last checkpoint, and gives checkpointing back to the connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.exited) {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      return;
    }
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Held open until it has exited, or the process could end while waiting for it.
    this.worker.ref();
    this.worker.postMessage('stop');
    await exited;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: the next tick tries again */ }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;
