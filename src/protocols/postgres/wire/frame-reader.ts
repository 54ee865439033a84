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
export const MAX_STARTUP_PACKET_BYTES = 10_000;

/**
 * Incremental framing of socket chunks into messages. Chunks are kept as a list and only joined when one message
 * spans several of them, so a long message arriving in many pieces is copied once. The first chunk is read from an
 * offset rather than cut after each message: a chunk holds a hundred rows, and each cut would be one more view.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  /** Bytes of the first chunk already returned. */
  private offset = 0;
  /** Bytes received and not yet returned. */
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
    const length = this.peek(4).readInt32BE(this.offset);
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
    const at = this.offset;
    // Signed, as the protocol's Int32 is: a negative length is invalid, not huge.
    const length =
      ((header[at + 1] as number) << 24) |
      ((header[at + 2] as number) << 16) |
      ((header[at + 3] as number) << 8) |
      (header[at + 4] as number);
    if (length < 4) throw protocolViolation(`invalid message length ${length}`);
    if (length + 1 > this.options.maxMessageBytes) throw messageTooLarge(length + 1, this.options.maxMessageBytes);
    if (this.size < length + 1) return undefined;
    const bytes = this.take(length + 1);
    return new Frame(bytes[0] as number, bytes);
  }

  /** Removes and returns everything buffered (for handing a socket over, e.g. after TLS negotiation). */
  drain(): Buffer {
    return this.take(this.size);
  }

  /** A chunk holding at least the first `count` buffered bytes, from `offset`, without consuming them. */
  private peek(count: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length - this.offset >= count) return first;
    this.join();
    return this.chunks[0] as Buffer;
  }

  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    if ((this.chunks[0] as Buffer).length - this.offset < count) this.join();
    const first = this.chunks[0] as Buffer;
    const result = first.subarray(this.offset, this.offset + count);
    this.offset += count;
    this.size -= count;
    if (this.offset === first.length) {
      this.chunks.shift();
      this.offset = 0;
    }
    return result;
  }

  /** Joins what is buffered into one chunk (a message spans several). */
  private join(): void {
    const first = this.chunks[0] as Buffer;
    if (this.offset > 0) this.chunks[0] = first.subarray(this.offset);
    this.chunks = [Buffer.concat(this.chunks, this.size)];
    this.offset = 0;
  }
}
