import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.js';
import type { SerialisedEvent } from '../hash-chain.js';
import { AuditSpool } from './audit-spool.js';
import { type DrainOptions, type DrainReport, drainUntilEmpty, logDrainProblems } from './spool-drain.js';
import { SpoolThread } from './spool-thread.js';

/** How often the spool is drained into the log (each drain is one commit, off the gateway's thread). */
const DRAIN_INTERVAL_MS = 100;

/**
 * Bytes the log may fall behind the spool before new events are refused: a drainer that cannot keep up or keeps
 * failing (a full disk, a lock held for long) must not let the unchained part of the audit grow without end.
 */
const MAX_BACKLOG_BYTES = 64 * 1024 * 1024;

/** Drain failures are logged at most this often: a drain that keeps failing retries ten times a second. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

export interface SpoolOptions {
  /** Where drain problems (bytes that are not whole frames, failed drains) are reported. */
  readonly logger?: Logger;
  readonly drainIntervalMs?: number;
  /** false: drain on the gateway's thread, as when the spool thread cannot start (default: a thread of its own). */
  readonly thread?: boolean;
  /** Tests: a smaller segment size (see audit-spool.ts) and backlog limit. */
  readonly segmentBytes?: number;
  readonly maxBacklogBytes?: number;
}

export interface SpoolRecordingTarget {
  /** The database file, its spool directory, and the connection settings the spool thread copies. */
  readonly path: string;
  readonly directory: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly busyTimeoutMs: number;
  /** A drain on the store's own connection: for the last drain at close, and if the thread cannot run. */
  readonly drainHere: (options?: DrainOptions) => DrainReport;
}

/**
 * The gateway's side of the audit spool (see audit-spool.ts): appends each batch, has the spool thread drain it,
 * or drains on this thread when the thread cannot start or stops, and refuses new events when the log falls too
 * far behind.
 */
export class SpoolRecording {
  private thread: SpoolThread | undefined;
  private inline: NodeJS.Timeout | undefined;
  /** The backlog the last drain reported, and how much the spool had taken when it arrived. */
  private reportedBacklog = 0;
  private writtenAtReport = 0;
  /** Drain failures since the last one logged, and when that was. */
  private failures = 0;
  private failureLoggedAt = 0;
  private closed = false;
  readonly logger: Logger | undefined;
  private readonly intervalMs: number;
  private readonly maxBacklogBytes: number;

  private constructor(
    private readonly spool: AuditSpool,
    private readonly target: SpoolRecordingTarget,
    options: SpoolOptions,
  ) {
    this.logger = options.logger;
    this.intervalMs = options.drainIntervalMs ?? DRAIN_INTERVAL_MS;
    this.maxBacklogBytes = options.maxBacklogBytes ?? MAX_BACKLOG_BYTES;
  }

  static async start(target: SpoolRecordingTarget, options: SpoolOptions = {}): Promise<SpoolRecording> {
    const spool = AuditSpool.open(target.directory, {
      sync: target.synchronous === 'FULL',
      segmentBytes: options.segmentBytes,
    });
    const recording = new SpoolRecording(spool, target, options);
    if (options.thread === false) {
      recording.drainInline();
      return recording;
    }
    try {
      recording.thread = await SpoolThread.start(
        {
          path: target.path,
          directory: target.directory,
          intervalMs: recording.intervalMs,
          synchronous: target.synchronous,
          busyTimeoutMs: target.busyTimeoutMs,
        },
        {
          onReport: (report) => {
            logDrainProblems(report, recording.logger);
            recording.drained(report);
          },
          onDrainFailed: (message) => recording.drainFailed(message),
          onExit: (reason) => {
            recording.thread = undefined;
            recording.drainInline(`the audit spool thread stopped: ${reason}`);
          },
        },
      );
    } catch (error) {
      recording.drainInline(`the audit spool thread cannot start: ${(error as Error).message}`);
    }
    return recording;
  }

  /**
   * Bytes spooled that the log has not taken yet: what the last drain left, and what was written since it reported.
   * Past `maxBacklogBytes`, new events are refused.
   */
  get backlogBytes(): number {
    return this.reportedBacklog + (this.spool.written - this.writtenAtReport);
  }

  /** Appends one batch, or refuses it (writing nothing) when the log is too far behind. */
  append(events: readonly SerialisedEvent[]): void {
    if (this.closed) throw new GatehouseError('internal', 'the audit spool is closed');
    const backlog = this.backlogBytes;
    if (backlog > this.maxBacklogBytes) {
      throw new GatehouseError(
        'internal',
        `the audit log is ${Math.round(backlog / 1048576)} MB behind its spool; new events are refused until it drains`,
      );
    }
    this.spool.append(events);
  }

  /** The thread's last drain, then one on the store's connection (this writer's segments now sealed: deleted). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.inline);
    await this.thread?.stop();
    this.spool.close();
    try {
      drainUntilEmpty(this.target.drainHere, { sealedWriter: this.spool.writer }, this.logger);
    } catch (error) {
      // Left in the spool: the next start (or a CLI that reads) drains it.
      this.logger?.warn({ err: error }, 'audit spool: the last drain failed; the next start drains it');
    }
  }

  private drained(report: DrainReport): void {
    this.reportedBacklog = report.backlogBytes;
    this.writtenAtReport = this.spool.written;
  }

  private drainFailed(message: string): void {
    this.failures += 1;
    const now = Date.now();
    if (now - this.failureLoggedAt < FAILURE_LOG_INTERVAL_MS) return;
    this.logger?.warn({ err: message, failures: this.failures }, 'audit spool drain failed; retrying');
    this.failureLoggedAt = now;
    this.failures = 0;
  }

  /** Without its thread, the spool is drained on the gateway's thread, on the same interval (why, if not asked to). */
  private drainInline(reason?: string): void {
    if (this.closed) return;
    if (reason !== undefined) this.logger?.warn({ reason }, 'the audit spool is drained on the gateway thread');
    this.inline = setInterval(() => {
      try {
        this.drained(drainUntilEmpty(this.target.drainHere, {}, this.logger));
      } catch (error) {
        this.drainFailed((error as Error).message);
      }
    }, this.intervalMs);
    this.inline.unref();
  }
}
