import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GatehouseError } from '../../../core/errors.js';
import type { ClassifiedStatement } from './classify.js';
import type { ParseAnswer, ParseRequest } from './parse-worker.js';

export interface ParsePoolOptions {
  /** Largest statement text classified at all (bytes of UTF-8); longer ones are refused with SQLSTATE 54000. */
  readonly maxStatementBytes: number;
  /** Longest a worker may take for one statement; the worker is then terminated and the statement refused (54001). */
  readonly timeoutMs: number;
  /** Worker threads at most (each started on first need). */
  readonly threads?: number;
  /** JavaScript heap of each thread: a parse tree larger than this kills the thread, not the gateway. */
  readonly heapMb?: number;
}

let workerSource: Promise<string> | undefined;

/**
 * parse-worker.ts and the classifier, bundled once per process as one CommonJS script, as spool-thread.ts does for
 * the same reason: a worker thread does not inherit the tsx loader. libpg-query stays outside (it loads its wasm
 * from its own package directory).
 */
function bundledWorker(): Promise<string> {
  workerSource ??= import('esbuild')
    .then((esbuild) =>
      esbuild.build({
        entryPoints: [fileURLToPath(new URL('./parse-worker.ts', import.meta.url))],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: ['libpg-query'],
        write: false,
        logLevel: 'silent',
      }),
    )
    .then((result) => {
      const [output] = result.outputFiles;
      if (!output) throw new Error('esbuild produced no output for the parse worker');
      return `(function (require) {\n${output.text}\n})(require('node:module').createRequire(require('node:worker_threads').workerData.base));`;
    });
  workerSource.catch(() => {
    workerSource = undefined;
  });
  return workerSource;
}

interface Job {
  readonly sql: string;
  readonly resolve: (statements: ClassifiedStatement[]) => void;
  readonly reject: (error: GatehouseError) => void;
}

/** One worker thread and the job it runs, if any. */
interface Thread {
  readonly worker: Worker;
  job: { readonly id: number; readonly job: Job; readonly timer: NodeJS.Timeout } | undefined;
}

/**
 * Classifies large statements off the event loop: a few worker threads, a queue, a size cap and a time budget. A
 * thread that runs out of time or memory is terminated (its statement refused) and replaced on next need.
 */
export class ParsePool {
  private readonly threads: Thread[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private stopped = false;
  private readonly maxThreads: number;
  /** Threads being started (loading the parser), not yet in `threads`. */
  private starting = 0;

  constructor(private readonly options: ParsePoolOptions) {
    this.maxThreads = Math.max(1, options.threads ?? 1);
  }

  /** The statements of `sql`, or a refusal: too large (54000), out of time (54001) or the thread failed. */
  classify(sql: string): Promise<ClassifiedStatement[]> {
    const bytes = Buffer.byteLength(sql);
    if (bytes > this.options.maxStatementBytes)
      return Promise.reject(
        new GatehouseError(
          'request.too_large',
          `gatehouse: the statement of ${bytes} bytes exceeds the limit of ${this.options.maxStatementBytes} bytes (postgres.maxStatementBytes)`,
        ),
      );
    if (this.stopped) return Promise.reject(new GatehouseError('upstream.unavailable'));
    return new Promise((resolve, reject) => {
      this.queue.push({ sql, resolve, reject });
      void this.dispatch();
    });
  }

  /** Terminates every thread; queued and running statements are refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.queue.splice(0)) job.reject(failure('the gateway is stopping'));
    await Promise.all(this.threads.splice(0).map((thread) => this.end(thread, 'the gateway is stopping')));
  }

  private async dispatch(): Promise<void> {
    let thread = this.threads.find((t) => t.job === undefined);
    if (thread === undefined && this.threads.length + this.starting < this.maxThreads) {
      this.starting++;
      try {
        thread = await this.spawn();
      } catch (error) {
        for (const job of this.queue.splice(0))
          job.reject(failure(`the parse thread could not start: ${String(error)}`));
        return;
      } finally {
        this.starting--;
      }
      if (this.stopped) {
        await this.end(thread, 'the gateway is stopping');
        return;
      }
    }
    if (thread === undefined || thread.job !== undefined) return;
    const job = this.queue.shift();
    if (job === undefined) return;
    const id = this.nextId++;
    const running = thread;
    const timer = setTimeout(() => {
      running.job = undefined;
      job.reject(
        new GatehouseError(
          'request.invalid',
          `gatehouse: the statement could not be classified within ${this.options.timeoutMs} ms (postgres.statementParseTimeout); send it in smaller parts`,
          { details: { sqlstate: '54001' } },
        ),
      );
      void this.end(running, 'time budget exceeded').then(() => this.dispatch());
    }, this.options.timeoutMs);
    thread.job = { id, job, timer };
    thread.worker.postMessage({ id, sql: job.sql } satisfies ParseRequest);
  }

  private async spawn(): Promise<Thread> {
    const source = await bundledWorker();
    const worker = new Worker(source, {
      eval: true,
      execArgv: [],
      workerData: { base: import.meta.url },
      resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb ?? 512 },
    });
    worker.unref();
    const thread: Thread = { worker, job: undefined };
    let started!: (ok: boolean) => void;
    const ready = new Promise<boolean>((resolve) => {
      started = resolve;
    });
    worker.on('message', (answer: ParseAnswer) => {
      if ('ready' in answer) {
        started(true);
        return;
      }
      const running = thread.job;
      if (running === undefined || running.id !== answer.id) return;
      clearTimeout(running.timer);
      thread.job = undefined;
      if ('statements' in answer) running.job.resolve(answer.statements.map(withoutExecute));
      else running.job.reject(failure(answer.error));
      void this.dispatch();
    });
    const gone = (reason: string) => {
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads.splice(index, 1);
      const running = thread.job;
      thread.job = undefined;
      if (running !== undefined) {
        clearTimeout(running.timer);
        running.job.reject(failure(reason));
      }
      if (!this.stopped && this.queue.length > 0) void this.dispatch();
    };
    worker.on('error', (error) => gone(`the parse thread failed: ${error.message}`));
    worker.on('exit', () => {
      started(false);
      gone('the parse thread exited');
    });
    if (!(await ready)) throw new Error('the parse thread exited while loading the parser');
    this.threads.push(thread);
    return thread;
  }

  private async end(thread: Thread, reason: string): Promise<void> {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
    if (thread.job !== undefined) {
      clearTimeout(thread.job.timer);
      thread.job.job.reject(failure(reason));
      thread.job = undefined;
    }
    await thread.worker.terminate();
  }
}

function failure(reason: string): GatehouseError {
  return new GatehouseError('request.invalid', 'gatehouse: the statement could not be classified', {
    details: { sqlstate: '54001', reason },
  });
}

/**
 * An EXECUTE classified without the session's prepared names is unknown (denied); its `executes` is dropped so the
 * session never classifies the large text again on its own thread.
 */
function withoutExecute(statement: ClassifiedStatement): ClassifiedStatement {
  if (statement.executes === undefined) return statement;
  const { executes: _executes, ...rest } = statement;
  return { ...rest, kind: 'unknown', error: 'EXECUTE in a statement this large is not classified' };
}
