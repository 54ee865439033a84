// zlib.crc32: Node 20.15+ and 22.2+ (within package.json's engines).
import { isAscii } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { AUDIT_EVENT_TYPES } from '../../core/audit-event.js';
import type { SerialisedEvent } from '../hash-chain.js';

/**
 * The audit spool's on-disk format: one frame per appended batch, `[u32 LE length][u32 LE crc32][body]`, the body
 * UTF-8 lines `sessionId`, `type`, `at`, `payloadJson` for each event. JSON.stringify never writes a raw line break,
 * so the payload (the bulk) is written as is, not escaped a second time; ids and types are checked on the way in.
 * Written by hand: no library frames append-only records this simply, and the reader must tell a frame still being
 * written (too short: wait) from a broken one (bad checksum).
 */
export const FRAME_HEADER_BYTES = 8;

/** A batch bigger than this is refused rather than written: a length beyond it is read as a broken frame. */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;

const KNOWN_TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

/** Reused by every encode: a batch is encoded and written before the next one is (the writer is synchronous). */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Encodes one batch as one frame, ready for a single write. The frame is a view of a buffer the next call reuses:
 * write it before encoding again. Throws on an id or type that would break the lines.
 */
export function encodeFrame(events: readonly SerialisedEvent[]): Buffer {
  let text = '';
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as SerialisedEvent;
    if (e.sessionId.includes('\n') || !KNOWN_TYPES.has(e.type) || !Number.isSafeInteger(e.at)) {
      throw new Error(`audit event ${i} of the batch cannot be spooled (session id, type or time is malformed)`);
    }
    text += `${i === 0 ? '' : '\n'}${e.sessionId}\n${e.type}\n${e.at}\n${e.payloadJson}`;
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit: one encoding pass into a buffer that is surely big enough.
  const room = FRAME_HEADER_BYTES + text.length * 3;
  if (room > MAX_FRAME_BYTES) throw new Error(`an audit batch of ${text.length} characters is too large to spool`);
  if (scratch.length < room) scratch = Buffer.allocUnsafe(Math.max(room, scratch.length * 2));
  const bodyBytes = scratch.write(text, FRAME_HEADER_BYTES, 'utf8');
  const frame = scratch.subarray(0, FRAME_HEADER_BYTES + bodyBytes);
  frame.writeUInt32LE(bodyBytes, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
}

export interface DecodedFrames {
  readonly events: SerialisedEvent[];
  /** Bytes of `bytes` taken by whole, valid frames. */
  readonly consumed: number;
  /**
   * Why decoding stopped before the end: `partial` (the last frame is not all there yet: a write in progress, or a
   * write cut short) or `broken` (a frame whose length or checksum is wrong: corruption). Absent at a clean end.
   */
  readonly stop?: 'partial' | 'broken';
}

/** Decodes whole frames from the start of `bytes`, at most about `maxEvents` events (whole frames only). */
export function decodeFrames(bytes: Buffer, maxEvents = Number.POSITIVE_INFINITY): DecodedFrames {
  const events: SerialisedEvent[] = [];
  let offset = 0;
  while (offset < bytes.length && events.length < maxEvents) {
    if (bytes.length - offset < FRAME_HEADER_BYTES) return { events, consumed: offset, stop: 'partial' };
    const length = bytes.readUInt32LE(offset);
    if (length === 0 || length > MAX_FRAME_BYTES) return { events, consumed: offset, stop: 'broken' };
    const end = offset + FRAME_HEADER_BYTES + length;
    if (end > bytes.length) return { events, consumed: offset, stop: 'partial' };
    const body = bytes.subarray(offset + FRAME_HEADER_BYTES, end);
    const decoded = crc32(body) === bytes.readUInt32LE(offset + 4) ? decodeBody(body) : undefined;
    if (!decoded) return { events, consumed: offset, stop: 'broken' };
    for (const e of decoded) events.push(e);
    offset = end;
  }
  return { events, consumed: offset };
}

function decodeBody(body: Buffer): SerialisedEvent[] | undefined {
  // An ASCII body (the usual one) decodes as latin1, quicker than UTF-8 for the same text. Cut by indexOf, without
  // the array of lines and one per event that split and slice made (bench/results/recording.md).
  const text = body.toString(isAscii(body) ? 'latin1' : 'utf8');
  const events: SerialisedEvent[] = [];
  let start = 0;
  for (;;) {
    const a = text.indexOf('\n', start);
    const b = a < 0 ? -1 : text.indexOf('\n', a + 1);
    const c = b < 0 ? -1 : text.indexOf('\n', b + 1);
    if (c < 0) return undefined;
    const d = text.indexOf('\n', c + 1);
    const end = d < 0 ? text.length : d;
    const type = text.slice(a + 1, b);
    const time = Number(text.slice(b + 1, c));
    const payloadJson = text.slice(c + 1, end);
    if (!KNOWN_TYPES.has(type) || !Number.isSafeInteger(time) || !payloadJson.startsWith('{')) return undefined;
    events.push({ sessionId: text.slice(start, a), type: type as SerialisedEvent['type'], at: time, payloadJson });
    if (d < 0) return events;
    start = d + 1;
  }
}
