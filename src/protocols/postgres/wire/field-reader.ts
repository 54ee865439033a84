import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../../../core/errors.js';
import { protocolViolation } from './protocol-error.js';

/**
 * A cursor over one message body, reading the protocol's field types (Int16, Int32, String, Byte_n).
 * Any read past the end is a protocol violation, never a RangeError.
 * https://www.postgresql.org/docs/current/protocol-message-types.html
 */
export class FieldReader {
  private offset = 0;

  constructor(
    private readonly body: Buffer,
    /** Message name for error messages. */
    private readonly message: string,
  ) {}

  get remaining(): number {
    return this.body.length - this.offset;
  }

  byte(): number {
    this.need(1);
    return this.body[this.offset++] as number;
  }

  int16(): number {
    this.need(2);
    const value = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A NUL-terminated string, decoded as UTF-8. */
  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw protocolViolation(`${this.message}: string field is not terminated`);
    const value = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  /**
   * A NUL-terminated SQL text, which must be valid UTF-8: the session's pinned client encoding. Bytes that are not
   * (SJIS's `0x95 0x5C`, whose second byte is a backslash) would be decoded with replacement characters, and so
   * classified as other text than any server encoding would read; they are refused as the server refuses them.
   */
  sqlText(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw protocolViolation(`${this.message}: string field is not terminated`);
    if (!isUtf8(this.body.subarray(this.offset, end)))
      throw new GatehouseError('request.invalid', `${this.message}: invalid byte sequence for encoding "UTF8"`, {
        details: { sqlstate: '22021' },
      });
    const value = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  bytes(length: number): Buffer {
    if (length < 0) throw protocolViolation(`${this.message}: negative field length`);
    this.need(length);
    const value = this.body.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  rest(): Buffer {
    const value = this.body.subarray(this.offset);
    this.offset = this.body.length;
    return value;
  }

  /** Asserts the body has been read whole. */
  end(): void {
    if (this.offset !== this.body.length) throw protocolViolation(`${this.message}: unexpected trailing bytes`);
  }

  private need(count: number): void {
    if (this.offset + count > this.body.length) throw protocolViolation(`${this.message}: message is truncated`);
  }
}
