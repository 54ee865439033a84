import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { GatehouseError } from '../core/errors.js';
import type { ConnectedAgent } from './agent-registry.js';

/** Opens a stream and counts it against the agent while it is open (spreading picks the least busy agent). */
export function openStream(
  agent: ConnectedAgent,
  headers: Record<string, string>,
  endStream = false,
): ClientHttp2Stream {
  let stream: ClientHttp2Stream;
  try {
    stream = agent.session.request(headers, { endStream });
  } catch (error) {
    throw new GatehouseError('upstream.unavailable', undefined, {
      cause: error,
      details: { reason: `agent ${agent.id} tunnel is closing` },
    });
  }
  agent.active++;
  stream.once('close', () => {
    agent.active--;
  });
  return stream;
}

/** Resolves with the response headers; rejects when the stream fails or the agent does not answer in time. */
export function awaitResponse(stream: ClientHttp2Stream, timeoutMs: number): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(
        new GatehouseError('upstream.timeout', undefined, { details: { reason: 'agent did not answer in time' } }),
      );
    }, timeoutMs);
    const fail = (error: unknown) => {
      clearTimeout(timer);
      reject(
        new GatehouseError('upstream.unavailable', undefined, {
          cause: error,
          details: { reason: `agent stream failed: ${error instanceof Error ? error.message : 'closed'}` },
        }),
      );
    };
    const closed = () => fail(undefined);
    stream.once('error', fail);
    stream.once('close', closed);
    stream.once('response', (headers) => {
      clearTimeout(timer);
      stream.off('error', fail);
      stream.off('close', closed);
      resolve(headers);
    });
  });
}
