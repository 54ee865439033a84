import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
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

let workerSource: Promise<string> | undefined;
/** The worker's source next to this file: TypeScript under tsx, the compiled file in dist/ (scripts/build.mjs). */
const WORKER_ENTRY = import.meta.url.endsWith('.ts') ? './spool-worker.ts' : './spool-worker.js';

/**
 * spool-worker.ts and what it imports, as one CommonJS script, built once per process. Why a bundle: a worker thread
 * does not inherit the tsx loader the gateway runs under, and loading tsx in the thread is slow at every start;
 * esbuild (tsx's own compiler) bundles these few files far quicker, off the event loop (bench/results/recording.md).
 * better-sqlite3 stays outside, required from this package.
 */
function bundledWorker(): Promise<string> {
  workerSource ??= import('esbuild')
    .then((esbuild) =>
      esbuild.build({
        entryPoints: [fileURLToPath(new URL(WORKER_ENTRY, import.meta.url))],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: ['better-sqlite3'],
        write: false,
        logLevel: 'silent',
      }),
    )
    .then((result) => {
      const [output] = result.outputFiles;
      if (!output) throw new Error('esbuild produced no output for the spool worker');
      // The script runs with a `require` that resolves from this package, wherever the process started.
      return `(function (require) {\n${output.text}\n})(require('node:module').createRequire(require('node:worker_threads').workerData.base));`;
    });
  workerSource.catch(() => {
    workerSource = undefined; // a later start may try again
  });
  return workerSource;
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
    const source = await bundledWorker();
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
