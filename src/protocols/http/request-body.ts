import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../../core/errors.js';

/** Reads a request body whole, refusing it (and stopping reading) past `limit` bytes. Used only where policy must look inside. */
export async function readBodyLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new GatehouseError('request.too_large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new GatehouseError('request.too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Methods whose requests carry no body the gateway judges (see `refuseBodyOnRead`). */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A GET, HEAD or OPTIONS with a body is refused: classification judges reads by method and path without reading the
 * body, while some upstreams (search endpoints of several vector stores and inference servers) act on one. Refusing
 * is safer than dropping it: a dropped body would silently change what the caller asked for.
 */
export function refuseBodyOnRead(method: string, headers: IncomingMessage['headers']): void {
  if (!READ_METHODS.has(method)) return;
  const length = headers['content-length'];
  if (headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0'))
    throw new GatehouseError('request.invalid', `a ${method} request may not carry a body`);
}

/** Passes a request body through while counting its bytes. */
export async function* countBytes(source: AsyncIterable<Buffer>, counter: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    counter.bytes += chunk.length;
    yield chunk;
  }
}
