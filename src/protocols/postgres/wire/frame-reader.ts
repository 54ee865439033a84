import { messageTooLarge, protocolViolation } from './protocol-error.js';

/** One typed message: `code` is the type byte; `bytes` is the whole frame as received, `body` the part after the length. */
export class Frame {
  private bodyView: Buffer | undefined;

  constructor(
    readonly code: number,
    readonly bytes: Buffer,
  ) {}

  /** Made when first asked for: most DataRows are relayed whole, and a view costs more than the row's framing. */
  get body(): Buffer {
    if (this.bodyView === undefined) this.bodyView = this.bytes.subarray(5);
    return this.bodyView;
  }
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
const MAX_STARTUP_PACKET_BYTES = 10_000;

/**
 * Largest message accepted before authentication (the PasswordMessage carrying the token), near PostgreSQL's own
 * cap on authentication messages (PG_MAX_AUTH_TOKEN_LENGTH, 65535): an unauthenticated client cannot make the
 * gateway buffer more.
 */
export const MAX_PRE_AUTH_MESSAGE_BYTES = 64 * 1024;

/**
 * Incremental framing of socket chunks into messages. Chunks are kept as a list; a message that spans several is
 * copied out of them once, alone. The first chunk is read from an offset rather than cut after each message: a
 * chunk holds a hundred rows, and each cut would be one more view.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  /** Bytes of the first chunk already returned. */
  private offset = 0;
  /** Bytes received and not yet returned. */
  private size = 0;

  private maxMessageBytes: number;

  constructor(options: FrameReaderOptions) {
    this.maxMessageBytes = options.maxMessageBytes;
  }

  /** A new largest accepted message, for what follows (the limit before authentication is lower than after). */
  limit(maxMessageBytes: number): void {
    this.maxMessageBytes = maxMessageBytes;
  }

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
    const length = this.int32(0);
    if (length < 8) throw protocolViolation(`invalid startup packet length ${length}`);
    const maximum = Math.min(MAX_STARTUP_PACKET_BYTES, this.maxMessageBytes);
    if (length > maximum) throw messageTooLarge(length, maximum);
    if (this.size < length) return undefined;
    const packet = this.take(length);
    return { code: packet.readInt32BE(4), body: packet.subarray(8) };
  }

  /** The next typed message (Byte1 type, Int32 length, body) once it has fully arrived. */
  next(): Frame | undefined {
    if (this.size < 5) return undefined;
    const length = this.int32(1);
    if (length < 4) throw protocolViolation(`invalid message length ${length}`);
    if (length + 1 > this.maxMessageBytes) throw messageTooLarge(length + 1, this.maxMessageBytes);
    if (this.size < length + 1) return undefined;
    const bytes = this.take(length + 1);
    return new Frame(bytes[0] as number, bytes);
  }

  /** Removes and returns everything buffered (for handing a socket over, e.g. after TLS negotiation). */
  drain(): Buffer {
    return this.take(this.size);
  }

  /**
   * The Int32 at `index` of the buffered bytes; signed, as the protocol's is (a negative length is invalid, not
   * huge). Read by hand: this runs for every message.
   */
  private int32(index: number): number {
    const first = this.chunks[0] as Buffer;
    const at = this.offset + index;
    if (at + 4 <= first.length)
      return (
        ((first[at] as number) << 24) |
        ((first[at + 1] as number) << 16) |
        ((first[at + 2] as number) << 8) |
        (first[at + 3] as number)
      );
    return (this.byte(index) << 24) | (this.byte(index + 1) << 16) | (this.byte(index + 2) << 8) | this.byte(index + 3);
  }

  /** The byte at `index` of the buffered bytes, wherever chunks end. */
  private byte(index: number): number {
    let at = this.offset + index;
    for (const chunk of this.chunks) {
      if (at < chunk.length) return chunk[at] as number;
      at -= chunk.length;
    }
    throw new RangeError('read past the buffered bytes');
  }

  /**
   * The next `count` bytes, consumed: a view of the first chunk when they lie in it, else a copy of just them (a
   * message spanning chunks). Joining whole chunks instead would copy a chunk of rows for every row that spans two.
   */
  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    this.size -= count;
    const first = this.chunks[0] as Buffer;
    if (first.length - this.offset >= count) {
      const result = first.subarray(this.offset, this.offset + count);
      this.consumed(first, count);
      return result;
    }
    const result = Buffer.allocUnsafe(count);
    for (let copied = 0; copied < count; ) {
      const chunk = this.chunks[0] as Buffer;
      const part = Math.min(chunk.length - this.offset, count - copied);
      copied += chunk.copy(result, copied, this.offset, this.offset + part);
      this.consumed(chunk, part);
    }
    return result;
  }

  /** `count` more bytes of the first chunk, `chunk`, were returned. */
  private consumed(chunk: Buffer, count: number): void {
    this.offset += count;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
