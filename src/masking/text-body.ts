import { StringDecoder } from 'node:string_decoder';
import { TextDecoder } from 'node:util';
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

/**
 * Content types that are not declared text. On a masked resource their bodies are still scanned as text when they
 * decode as UTF-8 (an `application/octet-stream` download of a CSV is text in all but name), and refused otherwise:
 * the gateway cannot tell what a binary format holds, so it does not release what it could not scan (fail closed).
 */
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
  /** Strict: bytes that are not UTF-8 throw (see `NotUtf8`) instead of decoding to U+FFFD. */
  private readonly strict: TextDecoder | undefined;

  constructor(
    private readonly masker: TextMasker,
    options: { strict?: boolean } = {},
  ) {
    if (options.strict) this.strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  }

  push(chunk: Buffer): Buffer {
    return Buffer.from(this.masker.push(this.decode(chunk, true)), 'utf8');
  }

  end(): Buffer {
    const rest = this.decode(Buffer.alloc(0), false);
    return Buffer.from(this.masker.push(rest) + this.masker.end(), 'utf8');
  }

  private decode(chunk: Buffer, more: boolean): string {
    if (this.strict === undefined) return more ? this.decoder.write(chunk) : this.decoder.end();
    try {
      return this.strict.decode(chunk, { stream: more });
    } catch (error) {
      throw new NotUtf8(error);
    }
  }
}

/** A body declared binary that is not UTF-8 text: it cannot be scanned, so it is not released. */
export class NotUtf8 extends Error {
  constructor(cause: unknown) {
    super('the body is not UTF-8 text, so it could not be scanned', { cause });
    this.name = 'NotUtf8';
  }
}
