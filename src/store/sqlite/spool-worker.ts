import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { applyConnectionSettings } from './connection-settings.js';
import { type DrainReport, prepareSpoolDrain } from './spool-drain.js';

/**
 * The spool drainer's thread (started by spool-thread.ts): its own connection to the store's file drains the spool
 * into the log on a timer, so chaining, inserting and committing the events costs the gateway's event loop nothing.
 */

export interface SpoolWorkerData {
  readonly path: string;
  readonly directory: string;
  readonly intervalMs: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly busyTimeoutMs: number;
}

export type SpoolWorkerMessage =
  | { readonly type: 'drained'; readonly report: DrainReport }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'stopped' };

const port = parentPort;
if (!port) throw new Error('spool-worker.ts runs as a worker thread');
const data = workerData as SpoolWorkerData;
const db = new Database(data.path);
applyConnectionSettings(db, data);
const drain = prepareSpoolDrain(db, data.directory);
let timer: NodeJS.Timeout | undefined;

function drainAll(): void {
  try {
    for (let more = true; more; ) {
      const report = drain();
      port?.postMessage({ type: 'drained', report } satisfies SpoolWorkerMessage);
      more = report.more;
    }
  } catch (error) {
    port?.postMessage({ type: 'failed', message: (error as Error).message } satisfies SpoolWorkerMessage);
  }
}

function tick(): void {
  drainAll();
  timer = setTimeout(tick, data.intervalMs);
}

port.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  drainAll();
  db.close();
  port.postMessage({ type: 'stopped' } satisfies SpoolWorkerMessage);
  port.close();
});
timer = setTimeout(tick, data.intervalMs);
