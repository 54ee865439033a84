import { Worker } from 'node:worker_threads';
import { threadScript, workerEntry } from '../thread-script.js';
import type { DrainReport } from './spool-drain.js';
import type { SpoolWorkerData, SpoolWorkerMessage } from './spool-worker.js';

/** How long a stopping thread may take for its last drain before it is terminated (the store then drains itself). */
const STOP_TIMEOUT_MS = 10_000;

export interface SpoolThreadEvents {
  readonly onReport: (report: DrainReport) => void;
  /** The thread stopped on its own (a crash): the store drains on its own thread from now on. */
  readonly onExit: (reason: string) => void;
  /** A drain failed (it is retried at the next interval). */
  readonly onDrainFailed: (message: string) => void;
}

/** Runs spool-worker.ts on a thread of its own, and stops it after a last drain. */
export class SpoolThread {
  private readonly exited: Promise<void>;
  private stopping = false;

  private constructor(
    private readonly worker: Worker,
    events: SpoolThreadEvents,
  ) {
    worker.unref();
    worker.on('message', (message: SpoolWorkerMessage) => {
      if (message.type === 'drained') events.onReport(message.report);
      else if (message.type === 'failed') events.onDrainFailed(message.message);
    });
    let failure = 'exited';
    worker.on('error', (error) => {
      failure = error.message;
    });
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        if (!this.stopping) events.onExit(`${failure} (exit code ${code})`);
        resolve();
      });
    });
  }

  /** Rejects when the worker's code cannot be built: the store then drains on its own thread. */
  static async start(data: SpoolWorkerData, events: SpoolThreadEvents): Promise<SpoolThread> {
    // better-sqlite3 (a native addon) stays outside the bundle.
    const source = await threadScript(workerEntry(import.meta.url, 'spool-worker'), ['better-sqlite3']);
    const worker = new Worker(source, {
      eval: true,
      // Not the parent's flags (such as `--import tsx`): the bundle is plain JavaScript.
      execArgv: [],
      workerData: { ...data, base: import.meta.url },
    });
    return new SpoolThread(worker, events);
  }

  /** Asks for a last drain and waits for the thread to end; a thread that does not end in time is terminated. */
  async stop(): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    this.worker.postMessage('stop');
    const timeout = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timeout);
  }
}
