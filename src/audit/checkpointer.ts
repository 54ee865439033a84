import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { SignedCheckpoint, Store } from '../store/store.js';
import type { CheckpointSigner } from './checkpoint.js';
import type { ExportSink } from './export-sink.js';

export interface AuditCheckpointerOptions {
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * Where signed checkpoints also go, outside the store (a file on other storage, a webhook): someone who rewrites
   * the store and its chain together, with fresh hashes, cannot rewrite what was sent out (`audit verify --against`).
   */
  readonly sink?: ExportSink;
}

/** Undelivered checkpoints kept for the sink's next attempt; older ones are dropped (the store still has them). */
const MAX_UNSENT = 1000;

/**
 * Signs this instance's chain head periodically, at shutdown and on demand (before pruning). A signed checkpoint makes
 * every event up to it tamper-evident even against someone who rewrites the whole chain with fresh hashes, and lets
 * `audit verify` notice events deleted from the end.
 */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private lastEventId = 0;
  private running: Promise<SignedCheckpoint | undefined> = Promise.resolve(undefined);
  private unsent: SignedCheckpoint[] = [];

  constructor(
    private readonly store: Store,
    private readonly signer: CheckpointSigner,
    private readonly options: AuditCheckpointerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.checkpoint('periodic').catch((error: unknown) =>
        this.options.logger.error({ err: error }, 'audit checkpoint failed'),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Signs and stores the current head of this instance's chain, unless it was already signed. One at a time. */
  checkpoint(reason: string): Promise<SignedCheckpoint | undefined> {
    const run = this.running.catch(() => undefined).then(() => this.write(reason));
    this.running = run;
    return run;
  }

  /** Stops the timer and writes a last checkpoint; call after the recorder has flushed. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checkpoint('shutdown');
  }

  private async write(reason: string): Promise<SignedCheckpoint | undefined> {
    const chain = this.store.chain;
    const head = await this.store.chainHead(chain);
    let signed: SignedCheckpoint | undefined;
    if (head && head.seq !== this.lastEventId) {
      signed = this.signer.sign({ chain, eventId: head.seq, hash: head.hash, at: this.options.clock.now(), reason });
      await this.store.appendCheckpoint(signed);
      this.lastEventId = head.seq;
      if (this.options.sink) this.unsent.push(signed);
    }
    await this.send();
    return signed;
  }

  /** Delivers checkpoints not yet sent out; a failing sink is retried at the next checkpoint. */
  private async send(): Promise<void> {
    const sink = this.options.sink;
    if (!sink || this.unsent.length === 0) return;
    const batch = this.unsent.splice(0);
    try {
      await sink.deliver(batch.map((c) => `${checkpointLine(c)}\n`).join(''));
    } catch (error) {
      this.unsent = [...batch, ...this.unsent].slice(-MAX_UNSENT);
      this.options.logger.warn(
        { err: error, sink: sink.name },
        'audit checkpoint not delivered to its sink; will retry',
      );
    }
  }
}

/** One checkpoint as a JSON line, as sinks receive it (and `audit verify --against` reads it back). */
function checkpointLine(c: SignedCheckpoint): string {
  return JSON.stringify({
    type: 'audit.checkpoint',
    chain: c.chain,
    eventId: c.eventId,
    hash: c.hash,
    at: c.at,
    reason: c.reason,
    keyId: c.keyId,
    signature: c.signature,
  });
}

/** Checkpoint lines from a file a sink wrote (other lines, such as exported events, are skipped). */
export function parseCheckpointLines(text: string): SignedCheckpoint[] {
  const found: SignedCheckpoint[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"audit.checkpoint"')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const c = value as Record<string, unknown>;
    if (
      c.type === 'audit.checkpoint' &&
      typeof c.chain === 'string' &&
      Number.isSafeInteger(c.eventId) &&
      typeof c.hash === 'string' &&
      typeof c.at === 'number' &&
      typeof c.reason === 'string' &&
      typeof c.keyId === 'string' &&
      typeof c.signature === 'string'
    ) {
      found.push({
        chain: c.chain,
        eventId: c.eventId as number,
        hash: c.hash,
        at: c.at,
        reason: c.reason,
        keyId: c.keyId,
        signature: c.signature,
      });
    }
  }
  return found;
}
