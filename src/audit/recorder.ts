import type { Logger } from 'pino';
import type { AuditEventInput } from '../core/audit-event.js';
import { GatehouseError } from '../core/errors.js';
import type { Store } from '../store/store.js';

interface Pending {
  readonly event: AuditEventInput;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface AuditRecorderOptions {
  readonly logger: Logger;
  /** Most events written in one transaction. */
  readonly maxBatch?: number;
  /** Longest a deferrable event waits for company before it is written alone. */
  readonly deferMs?: number;
}

export interface RecordOptions {
  /**
   * Nobody waits on this event to run or release anything (e.g. a PostgreSQL statement's result, whose rows already
   * went out): it may wait up to `deferMs` to share the next transaction, usually the next operation's own record,
   * halving commits for a one-statement-at-a-time client.
   */
  readonly defer?: boolean;
  /**
   * The record of an operation that runs while it is written (an overlapped read), whose result may join it
   * (`amend`) if it comes in first. While other sessions are busy (the last write held several sessions' events) it
   * waits like a deferred record, and the result joining it, or `urge`, has it written at once: half the events to
   * write and chain. A lone session's record is written at once, in parallel with the operation: waiting for the
   * result would add the write to every statement's latency.
   */
  readonly expectsResult?: boolean;
}

/** What the recorder has written and refused since it started (read by the metrics at each scrape). */
export interface RecorderCounts {
  /** Events made durable. */
  events: number;
  /** Writes (group commits) that made them durable: `events / writes` is the mean batch. */
  writes: number;
  /** Events whose write failed: their operations were refused or their results withheld (fail closed). */
  refused: number;
}

/**
 * Writes audit events with group commit: events recorded in the same turn of the event loop share one transaction,
 * and each caller's promise resolves only once its event is durable. Callers await it before running an operation
 * or releasing a result, so an operation whose record cannot be made durable does not run (fail closed).
 */
export class AuditRecorder {
  readonly counts: RecorderCounts = { events: 0, writes: 0, refused: 0 };
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private deferredTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastBatchSize = 0;
  /** Event-loop turns left before a scheduled write, and the one callback that counts them (made once). */
  private turnsLeft = 0;
  private readonly onTurn = () => this.turn();
  /** The last write held more than one session's events: other sessions are busy (see `expectsResult`). */
  private lastBatchShared = false;
  private readonly maxBatch: number;
  private readonly deferMs: number;

  constructor(
    private readonly store: Store,
    private readonly options: AuditRecorderOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 512;
    this.deferMs = options.deferMs ?? 5;
  }

  record(event: AuditEventInput, options?: RecordOptions): Promise<void> {
    if (this.closed) return Promise.reject(new GatehouseError('audit.unavailable', 'the audit recorder is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (options?.defer || (options?.expectsResult && this.lastBatchShared)) this.scheduleDeferred();
      else this.schedule();
    });
  }

  /**
   * Adds `fields` to the payload of `event` (the very object given to `record`) while it still waits in the queue,
   * so one record carries what would otherwise take a second event and a second row to chain; its callers' promises
   * then also cover the added fields. False once its write has begun, or if it was never queued here: record the
   * rest as an event of its own. The payload object is changed in place: a payload given to `record` is the
   * recorder's until written. (Not copied: a copy per read costs CPU on the hot path; bench/results/recording.md.)
   */
  amend(event: AuditEventInput, fields: Readonly<Record<string, unknown>>): boolean {
    // From the end: the event amended is usually among the last queued.
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const pending = this.queue[i] as Pending;
      if (pending.event !== event) continue;
      Object.assign(event.payload, fields);
      this.schedule();
      return true;
    }
    return false;
  }

  /** Has `event` written at once if it waits in the queue (see `expectsResult`): something waits on it now. */
  urge(event: AuditEventInput): void {
    if (this.queue.some((pending) => pending.event === event)) this.schedule();
  }

  private scheduleDeferred(): void {
    if (this.scheduled || this.flushing || this.deferredTimer) return;
    this.deferredTimer = setTimeout(this.onDeferredTimer, this.deferMs);
  }

  /**
   * The deferred write's timer. A write that takes the deferred events along first leaves it armed rather than
   * clearing it (a timer set and cleared per statement is a cost on the hot path): it then finds nothing, or a later
   * deferred event, which it writes no later than `deferMs` after that event anyway.
   */
  private readonly onDeferredTimer = () => {
    this.deferredTimer = undefined;
    if (this.queue.length > 0) this.schedule();
  };

  /** Writes everything queued so far, and lets the store make it readable (see `Store.settle`). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (this.flushing) await this.flushing;
      else await this.writeBatch();
    }
    await this.store.settle();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    clearTimeout(this.deferredTimer);
    this.deferredTimer = undefined;
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // Under concurrency (the last batch had company), one more turn of the event loop lets the sockets read in it
    // add their records to this transaction, for fewer commits (bench/results/recording.md). A lone caller is
    // written at once.
    this.turnsLeft = this.lastBatchSize > 1 ? 2 : 1;
    setImmediate(this.onTurn);
  }

  private turn(): void {
    if (--this.turnsLeft > 0 && this.queue.length < this.maxBatch) {
      setImmediate(this.onTurn);
      return;
    }
    this.scheduled = false;
    // flush() may have started a write since: one write at a time keeps batches in order; its end reschedules.
    if (!this.flushing) void this.writeBatch();
  }

  private writeBatch(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return Promise.resolve();
    this.lastBatchSize = batch.length;
    const first = (batch[0] as Pending).event.sessionId;
    this.lastBatchShared = batch.some((p) => p.event.sessionId !== first);
    const write = this.store
      .recordEvents(batch.map((p) => p.event))
      .then(
        () => {
          this.counts.events += batch.length;
          this.counts.writes += 1;
          for (const p of batch) p.resolve();
        },
        (error: unknown) => {
          this.counts.refused += batch.length;
          this.options.logger.error(
            { err: error, events: batch.length },
            'audit write failed; the operations are refused',
          );
          const refusal = new GatehouseError('audit.unavailable', undefined, { cause: error });
          for (const p of batch) p.reject(refusal);
        },
      )
      .finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    this.flushing = write;
    return write;
  }
}
