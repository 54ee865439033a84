import { messageTooLarge, protocolViolation } from './protocol-error.js';

/** One typed message: `code` is the type byte; `bytes` is the whole frame as received, `body` the part after the length. */
export interface Frame {
  readonly code: number;
  readonly body: Buffer;
  readonly bytes: Buffer;
}

/** The untyped first packet of a connection (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
export interface StartupPacket {
  /** The request code or protocol version (first Int32 after the length). */
  readonly code: number;
  /** Everything after the code. */
  readonly body: Buffer;
}

export interface FrameReaderOptions {
  /** Largest accepted message, counting the length field; longer ones throw `request.too_large`. */
  readonly maxMessageBytes: number;
}

/** PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;

/**
 * Incremental framing of socket chunks into messages. Chunks are kept as a list and only joined when one message
 * spans several of them, so a long message arriving in many pieces is copied once.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly options: FrameReaderOptions) {}

  /** Bytes received but not yet returned as messages. */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The startup packet (Int32 length, Int32 code, body) once it has fully arrived. */
  nextStartup(): StartupPacket | undefined {
    if (this.size < 4) return undefined;
    const length = this.peek(4).readInt32BE(0);
    if (length < 8) throw protocolViolation(`invalid startup packet length ${length}`);
    const maximum = Math.min(MAX_STARTUP_PACKET_BYTES, this.options.maxMessageBytes);
    if (length > maximum) throw messageTooLarge(length, maximum);
    if (this.size < length) return undefined;
    const packet = this.take(length);
    return { code: packet.readInt32BE(4), body: packet.subarray(8) };
  }

  /** The next typed message (Byte1 type, Int32 length, body) once it has fully arrived. */
  next(): Frame | undefined {
    if (this.size < 5) return undefined;
    const header = this.peek(5);
    const length = header.readInt32BE(1);
    if (length < 4) throw protocolViolation(`invalid message length ${length}`);
    if (length + 1 > this.options.maxMessageBytes) throw messageTooLarge(length + 1, this.options.maxMessageBytes);
    if (this.size < length + 1) return undefined;
    const bytes = this.take(length + 1);
    return { code: bytes[0] as number, body: bytes.subarray(5), bytes };
  }

  /** Removes and returns everything buffered (for handing a socket over, e.g. after TLS negotiation). */
  drain(): Buffer {
    return this.take(this.size);
  }

  /** The first `count` buffered bytes without consuming them. */
  private peek(count: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= count) return first;
    this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] as Buffer;
  }

  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    const first = this.chunks[0] as Buffer;
    let result: Buffer;
    if (first.length >= count) {
      result = first.subarray(0, count);
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
    } else {
      const joined = Buffer.concat(this.chunks, this.size);
      result = joined.subarray(0, count);
      this.chunks = joined.length > count ? [joined.subarray(count)] : [];
    }
    this.size -= count;
    return result;
  }
}
