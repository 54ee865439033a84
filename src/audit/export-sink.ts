import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AuditSinkConfig } from '../config/schema.js';
import type { AuditEvent } from '../core/audit-event.js';
import { GatehouseError } from '../core/errors.js';

/** A destination for exported events. `deliver` resolves only once the receiver has them (file synced, 2xx). */
export interface ExportSink {
  readonly name: string;
  deliver(lines: string): Promise<void>;
}

/** One JSON line per event, with its chain fields, so a SIEM can check the hashes too. */
export function exportLine(e: AuditEvent): string {
  return JSON.stringify({
    id: e.id,
    chain: e.chain,
    seq: e.seq,
    sessionId: e.sessionId,
    type: e.type,
    at: new Date(e.at).toISOString(),
    payload: e.payload,
    prevHash: e.prevHash,
    hash: e.hash,
  });
}

/** Appends and fsyncs: a crash after `deliver` resolved cannot lose the lines. */
export class FileSink implements ExportSink {
  constructor(
    readonly name: string,
    private readonly path: string,
  ) {}

  async deliver(lines: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const handle = await open(this.path, 'a', 0o600);
    try {
      await handle.appendFile(lines);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
}

/** POSTs a batch as `application/x-ndjson`; any 2xx acknowledges it, anything else is retried later. */
export class WebhookSink implements ExportSink {
  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly timeoutMs: number,
  ) {}

  async deliver(lines: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { ...this.headers, 'content-type': 'application/x-ndjson' },
        body: lines,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new GatehouseError('upstream.unavailable', `export sink ${this.name} cannot be reached`, { cause: error });
    }
    // Drain the body so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) {
      throw new GatehouseError('upstream.unavailable', `export sink ${this.name} answered ${response.status}`);
    }
  }
}

export function createSink(config: AuditSinkConfig, baseDir: string): ExportSink {
  return config.type === 'file'
    ? new FileSink(config.name, resolve(baseDir, config.path))
    : new WebhookSink(config.name, config.url, config.headers, config.timeout);
}
