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

/** Passes a request body through while counting its bytes. */
export async function* countBytes(source: AsyncIterable<Buffer>, counter: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    counter.bytes += chunk.length;
    yield chunk;
  }
}
