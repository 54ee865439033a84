import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AuditConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { GatehouseError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { CheckpointSigner } from './checkpoint.js';
import { loadOrCreateCheckpointKey } from './checkpoint-key.js';
import { AuditCheckpointer } from './checkpointer.js';
import { createSink, type ExportSink } from './export-sink.js';
import { AuditExporter } from './exporter.js';
import { ForensicVault } from './forensic.js';
import { AuditRetention } from './retention.js';
import { SessionIndexer } from './session-indexer.js';

/**
 * How often the session index catches up with the log: each catch-up writes each active session's index page once,
 * for all the group commits since the last one (hundreds a second under load), and blocks for a few milliseconds;
 * readers scan at most this much unindexed tail.
 */
const SESSION_INDEX_INTERVAL_MS = 250;

/**
 * The gateway's background audit work, from the `audit` config section: the session index's catch-up, signed
 * checkpoints, retention, continuous export, and the forensic vault sessions seal copies with. Built (and keys
 * validated) before listeners start.
 */
export class AuditServices {
  readonly checkpointer: AuditCheckpointer | undefined;
  readonly retention: AuditRetention | undefined;
  readonly exporter: AuditExporter | undefined;
  readonly forensic: ForensicVault | undefined;
  /** Absent when the store keeps its index up itself (the SQLite spool's drainer). */
  readonly sessionIndexer: SessionIndexer | undefined;

  constructor(config: AuditConfig, baseDir: string, store: Store, clock: Clock, logger: Logger) {
    const log = logger.child({ component: 'audit' });
    if (!store.indexesInBackground) {
      this.sessionIndexer = new SessionIndexer(store, { intervalMs: SESSION_INDEX_INTERVAL_MS, logger: log });
    }
    // Tamper evidence by default: without a configured key, one generated on first start (see checkpoint-key.ts).
    const signer =
      config.checkpoints.signingKey !== undefined
        ? CheckpointSigner.fromPem(config.checkpoints.signingKey)
        : loadOrCreateCheckpointKey(resolve(baseDir, config.checkpoints.keyFile), log);
    const sink = checkpointSink(config, baseDir);
    this.checkpointer = new AuditCheckpointer(store, signer, {
      intervalMs: config.checkpoints.interval,
      clock,
      logger: log,
      ...(sink ? { sink } : {}),
    });
    if (config.retention) {
      this.retention = new AuditRetention(store, signer, this.checkpointer, {
        maxAgeMs: config.retention.maxAge,
        intervalMs: config.retention.interval,
        clock,
        logger: log,
        exportSinks: config.export.sinks.map((s) => s.name),
      });
    }
    if (config.export.sinks.length > 0) {
      this.exporter = new AuditExporter(
        store,
        config.export.sinks.map((s) => createSink(s, baseDir)),
        { intervalMs: config.export.interval, batch: config.export.batch, clock, logger: log },
      );
    }
    this.forensic = ForensicVault.fromConfig(config.forensic);
  }

  start(): void {
    this.sessionIndexer?.start();
    this.checkpointer?.start();
    this.retention?.start();
    this.exporter?.start();
  }

  /** After the recorder has flushed: a last signed checkpoint, then the exporter stops where it got to. */
  async stop(): Promise<void> {
    this.sessionIndexer?.stop();
    await this.retention?.stop();
    await this.checkpointer?.stop();
    await this.exporter?.stop();
  }
}

/** `audit.checkpoints.sink`: an export sink named, or a sink of its own. */
function checkpointSink(config: AuditConfig, baseDir: string): ExportSink | undefined {
  const sink = config.checkpoints.sink;
  if (sink === undefined) return undefined;
  if (typeof sink !== 'string') return createSink(sink, baseDir);
  const named = config.export.sinks.find((s) => s.name === sink);
  if (!named) throw new GatehouseError('config.invalid', `audit.checkpoints.sink: no export sink is named "${sink}"`);
  return createSink(named, baseDir);
}
