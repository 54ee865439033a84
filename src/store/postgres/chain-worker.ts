import { parentPort, workerData } from 'node:worker_threads';
import { GatehouseError } from '../../core/errors.js';
import type { ChainLink, SerialisedEvent } from '../hash-chain.js';
import type { SessionIndexChanges } from '../session-index.js';
import { ChainWriter } from './chain-writer.js';

/**
 * The chain writer's thread (started by chain-thread.ts): it claims the instance's chain on a connection of its own,
 * then chains (hashes), encodes and sends each batch and reads the answer, so none of that costs the gateway's event
 * loop anything. Batches are written in the order they arrive, each once the one before has committed.
 */

export interface ChainWorkerData {
  readonly url: string;
  readonly chain: string;
}

/** An error, as far as it crosses threads: a GatehouseError's code, or the server's SQLSTATE. */
export interface ThreadError {
  readonly message: string;
  readonly gatehouseCode?: string;
  readonly sqlstate?: string;
}

export type ChainWorkerRequest =
  | {
      readonly type: 'append';
      readonly id: number;
      readonly events: readonly SerialisedEvent[];
      readonly index: SessionIndexChanges;
      /** The caller wants each event's row id and place in the chain (the recorder does not). */
      readonly links: boolean;
    }
  | { readonly type: 'close' };

export type ChainWorkerAnswer =
  | { readonly type: 'claimed' }
  | { readonly type: 'claim-failed'; readonly error: ThreadError }
  | { readonly type: 'appended'; readonly id: number; readonly links: readonly ChainLink[] | undefined }
  | { readonly type: 'failed'; readonly id: number; readonly error: ThreadError }
  | { readonly type: 'closed' };

function threadError(error: unknown): ThreadError {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof GatehouseError) return { message, gatehouseCode: error.code };
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { message, sqlstate: code } : { message };
}

const port = parentPort;
if (!port) throw new Error('chain-worker.ts runs as a worker thread');
const data = workerData as ChainWorkerData;
const writer = new ChainWriter(data.url, data.chain);
const answer = (message: ChainWorkerAnswer) => port.postMessage(message);

port.on('message', (request: ChainWorkerRequest) => {
  if (request.type === 'append') {
    writer.append(request.events, request.index).then(
      (links) => answer({ type: 'appended', id: request.id, links: request.links ? links : undefined }),
      (error: unknown) => answer({ type: 'failed', id: request.id, error: threadError(error) }),
    );
  } else if (request.type === 'close') {
    void writer.close().finally(() => {
      answer({ type: 'closed' });
      port.close();
    });
  }
});

writer.claim().then(
  () => answer({ type: 'claimed' }),
  (error: unknown) => {
    answer({ type: 'claim-failed', error: threadError(error) });
    port.close();
  },
);
