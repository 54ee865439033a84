/**
 * Copies `from[start, end)` to `to` at `at`; returns how many bytes. Short stretches by hand: a copy through a view
 * costs more in making the view than in moving a few bytes.
 */
export function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): number {
  const count = end - start;
  if (count < 64) for (let k = 0; k < count; k++) to[at + k] = from[start + k] as number;
  else to.set(new Uint8Array(from.buffer, from.byteOffset + start, count), at);
  return count;
}

/**
 * Writes `value` in UTF-8 at `at`; returns how many bytes. Short ASCII text (tokens, labels) by hand: `write`
 * costs more in its argument handling than in the copy.
 */
export function writeUtf8(buffer: Buffer, value: string, at: number): number {
  const length = value.length;
  if (length <= 64) {
    let k = 0;
    for (; k < length; k++) {
      const c = value.charCodeAt(k);
      if (c >= 0x80) break;
      buffer[at + k] = c;
    }
    if (k === length) return length;
  }
  return buffer.write(value, at, 'utf8');
}

export function writeInt32(buffer: Buffer, at: number, value: number): void {
  buffer[at] = value >>> 24;
  buffer[at + 1] = value >>> 16;
  buffer[at + 2] = value >>> 8;
  buffer[at + 3] = value;
}

/** Size of each buffer frames are written into: a few socket chunks' worth of rows. */
const FRAME_BUFFER_BYTES = 128 * 1024;

/**
 * The masked frames of a session, written side by side into one buffer at a time, with the unchanged frames that
 * follow them: a chunk of rows from the backend goes to the client as one view of it (often the only buffer the
 * chunk's write holds), where a buffer per masked row would be allocated, then copied again when the chunk's
 * frames are joined for the socket. Bytes once handed out are never written again (the socket may still hold
 * them): a full buffer is left to the views into it and a new one taken. The session keeps its last buffer (at
 * most FRAME_BUFFER_BYTES, unless a row was larger) until it ends.
 */
export class FrameBuffer {
  /** Taken on the first masked row: most sessions never need one. */
  private buffer = Buffer.alloc(0);
  /** Bytes of `buffer` handed out or being written. */
  used = 0;
  /** The view of `buffer[viewStart, used)` last put in a list of frames, which later frames extend. */
  private view: Buffer | undefined;
  private viewStart = 0;

  /** The buffer to write a frame of at most `size` bytes into, at `used`. */
  room(size: number): Buffer {
    if (this.buffer.length - this.used < size) {
      this.buffer = Buffer.allocUnsafeSlow(Math.max(FRAME_BUFFER_BYTES, size));
      this.used = 0;
      this.view = undefined;
    }
    return this.buffer;
  }

  /** The frame of `size` bytes just written at `used` goes to `out`, in the view before it if that one is last. */
  commit(size: number, out: Buffer[]): void {
    const start = this.used;
    this.used += size;
    if (this.extends(out)) {
      this.view = this.buffer.subarray(this.viewStart, this.used);
      out[out.length - 1] = this.view;
      return;
    }
    this.viewStart = start;
    this.view = this.buffer.subarray(start, this.used);
    out.push(this.view);
  }

  /** An unchanged frame: copied in when it extends the last view (one buffer rather than two), else as it is. */
  relay(frame: Buffer, out: Buffer[]): void {
    if (!this.extends(out)) {
      out.push(frame);
      return;
    }
    const buffer = this.room(frame.length);
    // A new buffer (the last one full): nothing to extend there.
    if (!this.extends(out)) {
      out.push(frame);
      return;
    }
    copyBytes(frame, 0, frame.length, buffer, this.used);
    this.commit(frame.length, out);
  }

  /** Whether the last frame in `out` is the view a frame written now would extend (a view is in one list only). */
  private extends(out: Buffer[]): boolean {
    return this.view !== undefined && out[out.length - 1] === this.view;
  }
}
