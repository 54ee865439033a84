/**
 * `buffers` as one buffer to write. Frames relayed as they arrived are consecutive views of one socket read: they
 * are then one view of that memory, with no copy; anything else (a masked row, a message of the gateway's own, a
 * frame that spanned two reads) is copied together.
 */
export function joinedBuffers(buffers: readonly Buffer[], totalBytes?: number): Buffer {
  const first = buffers[0];
  if (first === undefined) return Buffer.alloc(0);
  if (buffers.length === 1) return first;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < buffers.length; i++) {
    const buffer = buffers[i] as Buffer;
    if (buffer.buffer !== first.buffer || buffer.byteOffset !== end) {
      return totalBytes === undefined ? Buffer.concat(buffers) : Buffer.concat(buffers, totalBytes);
    }
    end += buffer.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
