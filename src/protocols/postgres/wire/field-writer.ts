/**
 * Builds one typed message: type byte, Int32 length (counting itself), then fields.
 * https://www.postgresql.org/docs/current/protocol-message-types.html
 */
export class FieldWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  byte(value: number): this {
    return this.push(Buffer.of(value));
  }

  int16(value: number): this {
    const buffer = Buffer.allocUnsafe(2);
    buffer.writeInt16BE(value);
    return this.push(buffer);
  }

  int32(value: number): this {
    const buffer = Buffer.allocUnsafe(4);
    buffer.writeInt32BE(value);
    return this.push(buffer);
  }

  /** A NUL-terminated UTF-8 string. NUL characters inside the value are dropped: the protocol cannot carry them. */
  cstring(value: string): this {
    return this.push(Buffer.from(`${value.replaceAll('\0', '')}\0`, 'utf8'));
  }

  bytes(value: Buffer): this {
    return this.push(value);
  }

  /** The finished message with the given type byte. */
  message(code: number): Buffer {
    const header = Buffer.allocUnsafe(5);
    header[0] = code;
    header.writeInt32BE(this.size + 4, 1);
    return Buffer.concat([header, ...this.parts], this.size + 5);
  }

  private push(buffer: Buffer): this {
    this.parts.push(buffer);
    this.size += buffer.length;
    return this;
  }
}
