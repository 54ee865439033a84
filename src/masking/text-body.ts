import { StringDecoder } from 'node:string_decoder';
import type { MaskCounts } from './counts.js';
import { JsonMasker } from './json-masker.js';
import type { Redactor } from './redactor.js';
import { SseMasker } from './sse-masker.js';
import { StreamMasker } from './stream-masker.js';

/** A streaming masker over text: JSON, SSE or plain text. */
export interface TextMasker {
  push(chunk: string): string;
  end(): string;
}

/** Content types that are not text: passed through untouched (nothing a text detector finds can be in them). */
const BINARY =
  /^(?:image|audio|video|font)\/|^application\/(?:octet-stream|pdf|zip|gzip|x-protobuf|protobuf|grpc|wasm)/i;

/** Picks the masker for a body by its media type: SSE, anything JSON (also JSON Lines), else plain text. */
export function textMaskerFor(contentType: string | undefined, redactor: Redactor, counts: MaskCounts): TextMasker {
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('text/event-stream')) return new SseMasker(redactor, counts);
  if (type.includes('json')) return new JsonMasker(redactor, counts);
  return new StreamMasker(redactor, counts);
}

export function isBinaryContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && BINARY.test(contentType);
}

/**
 * A masker over UTF-8 bytes: decodes chunks (a character split across chunks waits for its other bytes), masks
 * and re-encodes. Returns an empty buffer while everything is held back.
 */
export class BytesMasker {
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly masker: TextMasker) {}

  push(chunk: Buffer): Buffer {
    return Buffer.from(this.masker.push(this.decoder.write(chunk)), 'utf8');
  }

  end(): Buffer {
    const rest = this.decoder.end();
    return Buffer.from(this.masker.push(rest) + this.masker.end(), 'utf8');
  }
}
