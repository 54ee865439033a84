import { Worker } from 'node:worker_threads';
import { type ErrorCode, GatehouseError } from '../../core/errors.js';
import type { ChainLink, SerialisedEvent } from '../hash-chain.js';
import type { SessionIndexChanges } from '../session-index.js';
import { threadScript, workerEntry } from '../thread-script.js';
import type { ChainWorkerAnswer, ChainWorkerData, ChainWorkerRequest, ThreadError } from './chain-worker.js';

/** How long a closing thread may take to finish its last batch and disconnect before it is terminated. */
const CLOSE_TIMEOUT_MS = 10_000;

interface Waiter {
  readonly resolve: (links: readonly ChainLink[] | undefined) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The gateway's side of the chain writer's thread (chain-worker.ts): sends it each batch, serialised, and settles the
 * batch's promise when the thread says it committed or failed. The thread holds the chain's lock and head; if it
 * stops on its own (a crash), what it was writing fails, `running` turns false, and the store writes on this thread.
 */
export class ChainThread {
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 1;
  private readonly claimed: Promise<void>;
  private readonly exited: Promise<void>;
  private exitedAlready = false;
  private closing = false;

  private constructor(private readonly worker: Worker) {
    let claimed!: { resolve: () => void; reject: (error: Error) => void };
    this.claimed = new Promise<void>((resolve, reject) => {
      claimed = { resolve, reject };
    });
    worker.on('message', (answer: ChainWorkerAnswer) => {
      switch (answer.type) {
        case 'claimed':
          claimed.resolve();
          break;
        case 'claim-failed':
          claimed.reject(errorFromThread(answer.error));
          break;
        case 'appended':
          this.settle(answer.id)?.resolve(answer.links);
          break;
        case 'failed':
          this.settle(answer.id)?.reject(errorFromThread(answer.error));
          break;
      }
    });
    let failure = 'exited';
    worker.on('error', (error) => {
      failure = error.message;
    });
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        this.exitedAlready = true;
        const stopped = new GatehouseError(
          'internal',
          `the PostgreSQL store's writer thread stopped: ${failure} (exit code ${code})`,
        );
        // Whether a batch in flight committed is unknown: its callers are refused (fail closed), and whoever writes
        // next re-reads the chain's head from the store.
        claimed.reject(stopped);
        for (const waiter of this.waiters.values()) waiter.reject(stopped);
        this.waiters.clear();
        resolve();
      });
    });
  }

  /**
   * Starts the thread and waits until it holds the chain; rejects as the claim does. Undefined if the thread's code
   * cannot be built (no esbuild): the store then writes on its own thread.
   */
  static async start(url: string, chain: string): Promise<ChainThread | undefined> {
    let source: string;
    try {
      // pg stays outside the bundle, required from this package.
      source = await threadScript(workerEntry(import.meta.url, 'chain-worker'), ['pg']);
    } catch {
      return undefined;
    }
    const worker = new Worker(source, {
      eval: true,
      // Not the parent's flags (such as `--import tsx`): the bundle is plain JavaScript.
      execArgv: [],
      workerData: { url, chain, base: import.meta.url } satisfies ChainWorkerData & { base: string },
    });
    const thread = new ChainThread(worker);
    try {
      await thread.claimed;
    } catch (error) {
      await thread.exited;
      throw error;
    }
    return thread;
  }

  /** False once the thread has stopped, on its own or closed. */
  get running(): boolean {
    return !this.exitedAlready && !this.closing;
  }

  append(
    events: readonly SerialisedEvent[],
    index: SessionIndexChanges,
    links: boolean,
  ): Promise<readonly ChainLink[] | undefined> {
    if (!this.running) return Promise.reject(new GatehouseError('internal', 'the PostgreSQL store is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'append', id, events, index, links } satisfies ChainWorkerRequest);
    });
  }

  /** Lets the thread finish what it was sent and disconnect (releasing the chain's lock), then waits for it to end. */
  async close(): Promise<void> {
    if (!this.closing && !this.exitedAlready) {
      this.closing = true;
      this.worker.postMessage({ type: 'close' } satisfies ChainWorkerRequest);
    }
    const timeout = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timeout);
  }

  /** Ends the thread at once, as a crash would (tests of what follows one). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }

  private settle(id: number): Waiter | undefined {
    const waiter = this.waiters.get(id);
    this.waiters.delete(id);
    return waiter;
  }
}

/** The error the thread reported, rebuilt: a GatehouseError keeps its code, a server error its SQLSTATE (`code`). */
function errorFromThread(error: ThreadError): Error {
  if (error.gatehouseCode) return new GatehouseError(error.gatehouseCode as ErrorCode, error.message);
  const rebuilt = new Error(error.message) as Error & { code?: string };
  if (error.sqlstate) rebuilt.code = error.sqlstate;
  return rebuilt;
}
