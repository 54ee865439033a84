import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatehouseError, MaskingFailure } from '../../core/errors.js';
import type { MaskCounts } from '../../masking/counts.js';
import type { Redactor } from '../../masking/redactor.js';
import { StreamMasker } from '../../masking/stream-masker.js';
import { BytesMasker, isBinaryContentType, textMaskerFor } from '../../masking/text-body.js';

/** Decoders for the content codings the gateway can mask through; any other coding is refused (fail closed). */
const DECODERS: Readonly<Record<string, () => NodeJS.ReadWriteStream>> = Object.assign(Object.create(null), {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
});

export interface MaskedResponse {
  readonly headers: OutgoingHttpHeaders;
  /** Masked chunks; empty chunks are skipped. Throws MaskingFailure when masking fails. */
  readonly body: AsyncIterable<Buffer>;
}

/**
 * Sets up masking of one upstream response: decides whether it can be masked (text, a known content coding),
 * decodes it, and returns the headers for the caller (length and coding removed: the body changes) with the masked
 * body. Returns undefined when the response carries no body. Bodies declared binary are scanned as text when they
 * are UTF-8 and refused (MaskingFailure) when they are not.
 */
export function maskResponse(
  method: string,
  status: number,
  headers: IncomingHttpHeaders,
  callerHeaders: OutgoingHttpHeaders,
  body: Readable,
  redactor: Redactor,
  counts: MaskCounts,
): MaskedResponse | undefined {
  if (method === 'HEAD' || status === 204 || status === 304) return undefined;
  const contentType = headers['content-type'];
  const coding = String(headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  let source: AsyncIterable<Buffer> = body;
  if (coding !== 'identity' && coding !== '') {
    const decoder = DECODERS[coding];
    if (decoder === undefined)
      throw new GatehouseError('upstream.unavailable', 'the response is encoded in a way the gateway cannot mask', {
        details: { reason: `content-encoding ${coding}` },
      });
    const decoding = decoder();
    // pipe() does not forward errors: an upstream failure must end the decoded stream too.
    body.once('error', (error) => decoding.emit('error', error));
    source = body.pipe(decoding) as unknown as AsyncIterable<Buffer>;
  }
  const out: OutgoingHttpHeaders = { ...callerHeaders };
  delete out['content-length'];
  delete out['content-encoding'];
  delete out['content-md5'];
  delete out['digest'];
  // Declared binary: scanned as plain text if it is UTF-8, else refused (see text-body.ts).
  const binary = isBinaryContentType(contentType);
  const masker = new BytesMasker(
    binary ? new StreamMasker(redactor, counts) : textMaskerFor(contentType, redactor, counts),
    { strict: binary },
  );
  return { headers: out, body: maskChunks(source, masker) };
}

async function* maskChunks(source: AsyncIterable<Buffer>, masker: BytesMasker): AsyncGenerator<Buffer> {
  let decoding = true;
  try {
    for await (const chunk of source) {
      decoding = false;
      const masked = mask(() => masker.push(chunk));
      decoding = true;
      if (masked.length > 0) yield masked;
    }
  } catch (error) {
    // A corrupt compressed body cannot be masked either: that is a masking failure, not a stream hiccup.
    if (decoding && isZlibError(error)) throw new MaskingFailure('the compressed body is corrupt', { cause: error });
    throw error;
  }
  const rest = mask(() => masker.end());
  if (rest.length > 0) yield rest;
}

function mask(step: () => Buffer): Buffer {
  try {
    return step();
  } catch (error) {
    throw new MaskingFailure('the response body could not be masked', { cause: error });
  }
}

function isZlibError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
