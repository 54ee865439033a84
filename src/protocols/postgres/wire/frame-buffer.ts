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
 * Moves `buffer[start, end)` to `at`, no later than `start`, within the buffer; returns how many bytes. Short
 * stretches by hand, front to back (safe while `at` is not after `start`), long ones with `copyWithin`.
 */
export function moveBytes(buffer: Buffer, start: number, end: number, at: number): number {
  const count = end - start;
  if (count < 64) for (let k = 0; k < count; k++) buffer[at + k] = buffer[start + k] as number;
  else buffer.copyWithin(at, start, end);
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

/** Frames written side by side in one buffer, standing in a list of frames as one placeholder until sealed. */
interface Run {
  readonly placeholder: Buffer;
  readonly buffer: Buffer;
  readonly start: number;
  end: number;
}

/**
 * The masked frames of a session, written side by side into one buffer at a time, with the unchanged frames that
 * follow them: a chunk of rows from the backend goes to the client as one view of it (often the only buffer the
 * chunk's write holds), where a buffer per masked row would be allocated, then copied again when the chunk's
 * frames are joined for the socket. Bytes once handed out are never written again (the socket may still hold
 * them): a full buffer is left to the views into it and a new one taken. The session keeps its last buffer (at
 * most FRAME_BUFFER_BYTES, unless a row was larger) until it ends.
 *
 * A run of frames stands in its list as a placeholder, which `seal` turns into the run's view before the list is
 * written: a view made for every row the run grows by would cost more than copying the row.
 */
export class FrameBuffer {
  /** Taken on the first masked row: most sessions never need one. */
  private buffer = Buffer.alloc(0);
  /** Bytes of `buffer` handed out or being written. */
  used = 0;
  /** The runs not yet sealed, all in `list`, the last one perhaps still growing. */
  private readonly runs: Run[] = [];
  private list: Buffer[] | undefined;

  /** The buffer to write a frame of at most `size` bytes into, at `used`. */
  room(size: number): Buffer {
    if (this.buffer.length - this.used < size) {
      this.buffer = Buffer.allocUnsafeSlow(Math.max(FRAME_BUFFER_BYTES, size));
      this.used = 0;
    }
    return this.buffer;
  }

  /** The frame of `size` bytes just written at `used` goes to `out`, in the run before it if that one is last. */
  commit(size: number, out: Buffer[]): void {
    const start = this.used;
    this.used += size;
    const run = this.growing(out, start);
    if (run !== undefined) {
      run.end = this.used;
      return;
    }
    if (this.list !== undefined && this.list !== out)
      throw new Error('masked frames were left in a list of frames that was never sealed');
    const placeholder = Buffer.alloc(0);
    this.runs.push({ placeholder, buffer: this.buffer, start, end: this.used });
    this.list = out;
    out.push(placeholder);
  }

  /** An unchanged frame: copied in when it extends the last run (one buffer rather than two), else as it is. */
  relay(frame: Buffer, out: Buffer[]): void {
    if (this.growing(out, this.used) === undefined) {
      out.push(frame);
      return;
    }
    const buffer = this.room(frame.length);
    // A new buffer (the last one full): nothing to extend there.
    if (this.growing(out, this.used) === undefined) {
      out.push(frame);
      return;
    }
    buffer.set(frame, this.used);
    this.commit(frame.length, out);
  }

  /**
   * Puts in `out` (the list given to `commit`, or a list the frames were moved to) the views of the frames written
   * since the last seal: before the list is read.
   */
  seal(out: Buffer[]): void {
    for (const run of this.runs) {
      const at = out.lastIndexOf(run.placeholder);
      if (at < 0) throw new Error('masked frames are missing from the list of frames sealed');
      out[at] = run.buffer.subarray(run.start, run.end);
    }
    this.runs.length = 0;
    this.list = undefined;
  }

  /** The run a frame written at `at` in the current buffer would extend: the last in `out`, ending there. */
  private growing(out: Buffer[], at: number): Run | undefined {
    const run = this.runs[this.runs.length - 1];
    if (run === undefined || run.buffer !== this.buffer || run.end !== at) return undefined;
    return out[out.length - 1] === run.placeholder ? run : undefined;
  }
}
