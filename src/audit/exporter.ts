import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AuditEvent } from '../core/audit-event.js';
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';
import { mergeChains } from './chain-merge.js';
import { type ExportSink, exportLine } from './export-sink.js';

export interface AuditExporterOptions {
  readonly intervalMs: number;
  readonly batch: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest pause between retries of a failing sink. */
  readonly maxBackoffMs?: number;
}

/**
 * Continuous export for a SIEM: each sink reads every chain after its cursor there, delivers a batch, and only then moves the
 * cursor (stored in the store, so it survives restarts). At-least-once: a crash between delivery and the cursor
 * update sends that batch again; receivers deduplicate by event id.
 */
export class AuditExporter {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly store: Store,
    private readonly sinks: readonly ExportSink[],
    private readonly options: AuditExporterOptions,
  ) {}

  start(): void {
    this.loops = this.sinks.map((sink) => this.run(sink));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  /** Delivers everything recorded so far to one sink; returns how many events were sent. */
  async catchUp(sink: ExportSink): Promise<number> {
    let sent = 0;
    for (;;) {
      const n = await this.deliverBatch(sink);
      if (n === 0) return sent;
      sent += n;
    }
  }

  /**
   * Reads up to `batch` events after the sink's cursor in each chain, delivers the earliest `batch` of them in time
   * order, then moves each chain's cursor to the last of its events delivered. The cursor is a position per chain, so
   * an event committed late by a slow replica is never skipped, whatever its time.
   */
  private async deliverBatch(sink: ExportSink): Promise<number> {
    const { batch } = this.options;
    const cursors = await this.store.exportCursors(sink.name);
    const pending: (readonly AuditEvent[])[] = [];
    for (const chain of await this.store.listChains()) {
      pending.push(await this.store.readChain(chain, cursors.get(chain) ?? 0, batch));
    }
    const events = mergeChains(pending, batch);
    if (events.length === 0) return 0;
    await sink.deliver(events.map((e) => `${exportLine(e)}\n`).join(''));
    const moved = new Map<string, number>();
    for (const e of events) moved.set(e.chain, Math.max(moved.get(e.chain) ?? 0, e.seq));
    await this.store.saveExportCursors(sink.name, moved, this.options.clock.now());
    return events.length;
  }

  private async run(sink: ExportSink): Promise<void> {
    const { signal } = this.abort;
    let failures = 0;
    while (!signal.aborted) {
      let pause = this.options.intervalMs;
      try {
        const sent = await this.deliverBatch(sink);
        if (failures > 0) this.options.logger.info({ sink: sink.name }, 'audit export sink recovered');
        failures = 0;
        if (sent === this.options.batch) pause = 0;
      } catch (error) {
        failures++;
        pause = Math.min(this.options.intervalMs * 2 ** Math.min(failures, 10), this.options.maxBackoffMs ?? 60_000);
        if (failures === 1 || failures % 10 === 0) {
          this.options.logger.warn({ sink: sink.name, err: error, failures }, 'audit export failed; will retry');
        }
      }
      if (pause > 0) await sleep(pause, undefined, { signal }).catch(() => undefined);
    }
  }
}
