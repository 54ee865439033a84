import { closeSync, fstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { AuditEventInput } from '../../core/audit-event.js';
import { foldResults } from '../fold-results.js';
import type { SerialisedEvent } from '../hash-chain.js';
import { type SessionIndexChanges, sessionIndexChanges } from '../session-index.js';
import { prepareAppend } from './append-transaction.js';
import { parseSegmentName, type SegmentName } from './audit-spool.js';
import { prepareIndexCatchUp } from './index-catch-up.js';
import { decodeFrames, FRAME_HEADER_BYTES } from './spool-format.js';

/** At most this many events move per drain: a drain holds the write lock, and on the gateway's thread, its loop. */
const DRAIN_BATCH = 5_000;

/** How much of a segment one read takes (more when a single frame is bigger). */
const READ_BYTES = 4 * 1024 * 1024;

export interface DrainReport {
  /** Spooled events moved into the log (a result folded into its operation's row counts too: see fold-results.ts). */
  readonly events: number;
  /** The drain stopped at its batch limit: more is waiting. */
  readonly more: boolean;
  /** Bytes left in the spool, all writers, after this drain. */
  readonly backlogBytes: number;
  /** Bytes that are not whole frames: skipped in a sealed segment, waiting in a live one. Log them. */
  readonly problems: readonly string[];
}

export interface DrainOptions {
  /** A writer that has closed (the store's own, at its close): its segments are sealed though its process lives. */
  readonly sealedWriter?: string;
}

/**
 * Moves spooled events (see audit-spool.ts) into the log, in one write transaction: for each segment, the frames
 * after its cursor are chained and inserted (results folded into their operations: see fold-results.ts), and the
 * cursor (`audit_spool_cursors`) advances in the same commit, so a crash or a second drainer (another thread, a CLI,
 * the next start) neither loses nor repeats an event. The session index catches up in the same commit. Sealed
 * segments are deleted once drained. Any connection may drain: the write lock makes drainers take turns.
 */
export function prepareSpoolDrain(db: Database.Database, directory: string): (options?: DrainOptions) => DrainReport {
  const append = prepareAppend(db);
  const catchUp = prepareIndexCatchUp(db);
  const cursors = db.prepare<[], { segment: string; applied: number }>(
    'select segment, applied from audit_spool_cursors',
  );
  const saveCursor = db.prepare(
    `insert into audit_spool_cursors (segment, applied) values (?, ?)
     on conflict (segment) do update set applied = excluded.applied`,
  );
  const dropCursor = db.prepare('delete from audit_spool_cursors where segment = ?');

  const drain = db.transaction((options: DrainOptions): DrainReport => {
    const segments = listSegments(directory);
    const lastSeq = new Map<string, number>();
    for (const s of segments) lastSeq.set(s.writer, Math.max(s.seq, lastSeq.get(s.writer) ?? -1));
    const applied = new Map(cursors.all().map((row) => [row.segment, Number(row.applied)]));
    let budget = DRAIN_BATCH;
    let events = 0;
    let backlogBytes = 0;
    const problems: string[] = [];

    for (const segment of segments) {
      const sealed =
        segment.seq < (lastSeq.get(segment.writer) ?? segment.seq) ||
        segment.writer === options.sealedWriter ||
        !processAlive(segment.pid);
      const result = drainSegment(join(directory, segment.name), applied.get(segment.name) ?? 0, sealed, budget);
      if (result === undefined) continue;
      if (result.events.length > 0) {
        const stored = foldResults(result.events);
        append.inTransaction(stored, indexChanges(stored));
        budget -= result.events.length;
        events += result.events.length;
      }
      if (result.problem) problems.push(`audit spool ${segment.name}: ${result.problem}`);
      if (sealed && result.applied >= result.size) {
        unlinkSync(join(directory, segment.name));
        dropCursor.run(segment.name);
      } else {
        if (result.applied !== (applied.get(segment.name) ?? 0)) saveCursor.run(segment.name, result.applied);
        backlogBytes += result.size - result.applied;
      }
      applied.delete(segment.name);
    }
    // Cursors of segments that are gone (deleted by a drainer that crashed before its commit).
    for (const gone of applied.keys()) dropCursor.run(gone);
    catchUp();
    return { events, more: budget <= 0, backlogBytes, problems };
  });
  return (options = {}) => drain.immediate(options);
}

/** Drains until a drain is not full (logging what each found wrong); returns the last report. */
export function drainUntilEmpty(
  drain: (options?: DrainOptions) => DrainReport,
  options: DrainOptions,
  logger: Logger | undefined,
): DrainReport {
  let report: DrainReport;
  do {
    report = drain(options);
    logDrainProblems(report, logger);
  } while (report.more);
  return report;
}

export function logDrainProblems(report: DrainReport, logger: Logger | undefined): void {
  for (const problem of report.problems) logger?.error({ problem }, 'audit spool: bytes that are not whole frames');
}

interface SegmentDrain {
  readonly size: number;
  readonly applied: number;
  readonly events: SerialisedEvent[];
  readonly problem?: string;
}

/** Reads whole frames after `applied`, up to about `budget` events; undefined when the file is gone. */
function drainSegment(path: string, from: number, sealed: boolean, budget: number): SegmentDrain | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const events: SerialisedEvent[] = [];
    let applied = from;
    if (applied > size) return { size, applied, events, problem: `its cursor (${applied}) is past its end (${size})` };
    while (applied < size && events.length < budget) {
      const bytes = readAt(fd, applied, Math.min(size - applied, Math.max(READ_BYTES, frameLength(fd, applied))));
      const decoded = decodeFrames(bytes, budget - events.length);
      for (const e of decoded.events) events.push(e);
      applied += decoded.consumed;
      if (decoded.stop === undefined) continue;
      if (decoded.stop === 'partial' && decoded.consumed > 0 && applied + bytes.length - decoded.consumed < size) {
        continue; // the read ended inside a frame that is all there: read on from it
      }
      if (!sealed) {
        return decoded.stop === 'broken'
          ? { size, applied, events, problem: `a broken frame at byte ${applied} (checksum or length); left in place` }
          : { size, applied, events };
      }
      // A sealed segment never grows again: what is not a whole frame now never will be. Those bytes were never
      // acknowledged (a write cut short) unless the file was damaged; either way, say so and go on.
      const problem = `${size - applied} bytes at byte ${applied} are not whole frames (${decoded.stop}); skipped`;
      return { size, applied: size, events, problem };
    }
    return { size, applied, events };
  } finally {
    closeSync(fd);
  }
}

/** The length of the frame at `offset`, header included (0 when the header is not all there). */
function frameLength(fd: number, offset: number): number {
  const header = readAt(fd, offset, FRAME_HEADER_BYTES);
  return header.length < FRAME_HEADER_BYTES ? 0 : FRAME_HEADER_BYTES + header.readUInt32LE(0);
}

/**
 * Reused by every read of up to READ_BYTES on this thread (drains run one at a time, and decoding copies what it
 * keeps): a fresh buffer per drain cost a page fault per 4 KiB touched, dear on virtual machines. A read of one
 * larger frame gets a buffer of its own, so a rare large batch does not stay in memory.
 */
let readBuffer: Buffer | undefined;

function sharedReadBuffer(): Buffer {
  readBuffer ??= Buffer.allocUnsafeSlow(READ_BYTES);
  return readBuffer;
}

/** Reads up to `length` bytes at `offset`; up to READ_BYTES, into a buffer the next read reuses. */
function readAt(fd: number, offset: number, length: number): Buffer {
  const buffer = length <= READ_BYTES ? sharedReadBuffer() : Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, offset + read);
    if (n === 0) break;
    read += n;
  }
  return buffer.subarray(0, read);
}

function listSegments(directory: string): SegmentName[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const segments: SegmentName[] = [];
  for (const name of names) {
    const segment = parseSegmentName(name);
    if (segment) segments.push(segment);
  }
  // Each writer's segments in order; writers by name (their events interleave in the log only between drains).
  return segments.sort((a, b) => (a.writer === b.writer ? a.seq - b.seq : a.writer < b.writer ? -1 : 1));
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The sessions table's changes: only starts (whose payload names the session) and ends matter. */
function indexChanges(events: readonly SerialisedEvent[]): SessionIndexChanges {
  const marks: AuditEventInput[] = [];
  for (const e of events) {
    if (e.type === 'session.start') marks.push({ ...e, payload: JSON.parse(e.payloadJson) });
    else if (e.type === 'session.end') marks.push({ ...e, payload: {} });
  }
  return sessionIndexChanges(marks);
}
