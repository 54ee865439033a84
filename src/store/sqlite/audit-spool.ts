import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SerialisedEvent } from '../hash-chain.js';
import { encodeFrame } from './spool-format.js';

/**
 * The audit spool: where the gateway makes its audit events durable, one write system call per batch, before they
 * reach the SQLite log. A SQLite commit costs a write transaction (the lock, the chain head read, the WAL write with
 * its page images) for every group commit, paid on the event loop that relays every session; an append to a file
 * is one `write`. The events are moved into the log behind, in large batches, by whoever drains the spool (see
 * spool-drain.ts): the store's own thread, a CLI that reads, the next start after a crash.
 *
 * Durability is the same as the log's own in WAL mode with synchronous=NORMAL: once `write` returns, the bytes are
 * the kernel's, so they survive the process crashing or being killed; `sync` adds an fdatasync per batch for power
 * loss, as synchronous=FULL does for the log.
 *
 * Files live in `<database>-spool/`, named `<pid>-<nonce>-<seq>.spool`: one writer per process and start, its
 * segments numbered. A segment is sealed (never written again) once a later one of the same writer exists or its
 * process is gone; only then may a drainer delete it.
 */

/** A writer starts a new segment past this size, so applied segments can be deleted while it keeps writing. */
const SEGMENT_BYTES = 16 * 1024 * 1024;

const SEGMENT_NAME = /^(\d+)-([0-9a-f]{12})-(\d{8})\.spool$/;

export interface SegmentName {
  readonly name: string;
  /** `<pid>-<nonce>`: one writer. */
  readonly writer: string;
  readonly pid: number;
  readonly seq: number;
}

export function parseSegmentName(name: string): SegmentName | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return undefined;
  const [, pid, nonce, seq] = match as unknown as [string, string, string, string];
  return { name, writer: `${pid}-${nonce}`, pid: Number(pid), seq: Number(seq) };
}

/** The spool directory of a SQLite database file, named like SQLite's own `-wal` and `-shm` companions. */
export function spoolDirectory(databasePath: string): string {
  return `${databasePath}-spool`;
}

export class AuditSpool {
  /** Bytes written since the spool opened, in all its segments. */
  written = 0;
  private fd: number;
  private seq = 0;
  private size = 0;
  private closed = false;

  private constructor(
    readonly directory: string,
    readonly writer: string,
    private readonly sync: boolean,
    private readonly segmentBytes: number,
  ) {
    this.fd = this.openSegment();
  }

  /** Creates the directory if needed and a writer with a first, empty segment. */
  static open(
    directory: string,
    options: { readonly sync?: boolean; readonly segmentBytes?: number } = {},
  ): AuditSpool {
    mkdirSync(directory, { recursive: true });
    const writer = `${process.pid}-${randomBytes(6).toString('hex')}`;
    return new AuditSpool(directory, writer, options.sync === true, options.segmentBytes ?? SEGMENT_BYTES);
  }

  /**
   * Writes one batch as one frame. Returns once the bytes are the kernel's (and on disk, with `sync`); throws, having
   * written nothing a drainer would read, when they cannot be.
   */
  append(events: readonly SerialisedEvent[]): void {
    if (this.closed) throw new Error('the audit spool is closed');
    const frame = encodeFrame(events);
    if (this.size > 0 && this.size + frame.length > this.segmentBytes) this.rotate();
    const before = this.size;
    try {
      for (let done = 0; done < frame.length; ) done += writeSync(this.fd, frame, done);
      if (this.sync) fdatasyncSync(this.fd);
    } catch (error) {
      this.discardFrom(before);
      throw error;
    }
    this.size += frame.length;
    this.written += frame.length;
  }

  /** The current segment's name, for tests and for the drainer that seals it at close. */
  get segment(): string {
    return segmentName(this.writer, this.seq);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /**
   * A write that failed part-way (disk full) may have left part of a frame: cut it off, so the next frame starts
   * where a reader expects one. If even that fails, the rest goes to a new segment, and the torn tail is skipped
   * by the drainer once that segment is sealed.
   */
  private discardFrom(size: number): void {
    try {
      ftruncateSync(this.fd, size);
    } catch {
      try {
        this.rotate();
      } catch {
        // Nothing more to do: the next append fails again and is refused.
      }
    }
  }

  private rotate(): void {
    const next = this.seq + 1;
    const fd = openSync(join(this.directory, segmentName(this.writer, next)), 'ax');
    closeSync(this.fd);
    this.fd = fd;
    this.seq = next;
    this.size = 0;
  }

  private openSegment(): number {
    // 'ax': append-only, and never reuse an existing file.
    return openSync(join(this.directory, segmentName(this.writer, this.seq)), 'ax');
  }
}

function segmentName(writer: string, seq: number): string {
  return `${writer}-${String(seq).padStart(8, '0')}.spool`;
}
