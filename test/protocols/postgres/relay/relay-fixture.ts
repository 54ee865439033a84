import { Duplex, PassThrough } from 'node:stream';
import { pino } from 'pino';
import { GatewayMetrics } from '../../../../src/admin/metrics.js';
import { createApprovals } from '../../../../src/approvals/create-approvals.js';
import { AuditRecorder } from '../../../../src/audit/recorder.js';
import { parseConfig } from '../../../../src/config/load.js';
import { systemClock } from '../../../../src/core/clock.js';
import { BackendRelay } from '../../../../src/protocols/postgres/relay/backend-relay.js';
import { BackendWriter } from '../../../../src/protocols/postgres/relay/backend-writer.js';
import { PendingResponses } from '../../../../src/protocols/postgres/relay/pending-responses.js';
import { ResultLimiter } from '../../../../src/protocols/postgres/relay/result-limit.js';
import { ResultRelay } from '../../../../src/protocols/postgres/relay/result-relay.js';
import { SessionState } from '../../../../src/protocols/postgres/relay/session-state.js';
import { StatementGate } from '../../../../src/protocols/postgres/relay/statement-gate.js';
import { StatementNames } from '../../../../src/protocols/postgres/relay/statement-names.js';
import { SqlClassifier } from '../../../../src/protocols/postgres/sql/classify.js';
import { Session } from '../../../../src/session/session.js';
import { SqliteStore } from '../../../../src/store/sqlite/sqlite-store.js';
import { temporaryDirectory } from '../../../support/temp-dir.js';

/** A backend message as the server writes it: type byte, int32 length (itself included), body. */
export function backendMessage(code: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

export const parseComplete = () => backendMessage('1');
export const bindComplete = () => backendMessage('2');
export const noData = () => backendMessage('n');
export const commandComplete = (tag: string) => backendMessage('C', Buffer.from(`${tag}\0`));
export const readyForQuery = (status: 'I' | 'T' | 'E') => backendMessage('Z', Buffer.from(status));

/** An ErrorResponse with severity, SQLSTATE and message fields. */
export function errorResponse(severity: string, code: string, message: string): Buffer {
  return backendMessage('E', Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0\0`));
}

/** The type byte of each backend or frontend message in `bytes`, in order. */
export function messageTypes(bytes: Buffer): string[] {
  const types: string[] = [];
  for (let at = 0; at + 5 <= bytes.length; at += 1 + bytes.readInt32BE(at + 1))
    types.push(String.fromCharCode(bytes[at] as number));
  return types;
}

/**
 * The backend's socket in memory: what the gateway writes is kept in `written`; what the test `answer`s is read by
 * the gateway. (A PassThrough would hand the gateway its own writes back.)
 */
export class BackendSocket extends Duplex {
  private readonly chunks: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }
  /** Everything the gateway sent the backend so far. */
  written(): Buffer {
    return Buffer.concat(this.chunks);
  }
  answer(...messages: Buffer[]): void {
    this.push(Buffer.concat(messages));
  }
}

/** Collects what a stream emits. */
export function collect(stream: PassThrough): { bytes(): Buffer } {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { bytes: () => Buffer.concat(chunks) };
}

/** Lets queued callbacks and stream events run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const logger = pino({ level: 'silent' });

/** A relay between two in-memory sockets, with the state and queues a proxy session would give it. */
export function relayFixture(options: { clientHighWaterMark?: number } = {}) {
  let cancels = 0;
  const client = new PassThrough(
    options.clientHighWaterMark === undefined ? {} : { highWaterMark: options.clientHighWaterMark },
  );
  const backend = new BackendSocket();
  const pending = new PendingResponses();
  const names = new StatementNames(new SqlClassifier());
  const closes: { reason: string; fatal: unknown }[] = [];
  const state = new SessionState(async (reason, fatal) => {
    closes.push({ reason, fatal });
  });
  let readyCount = 0;
  const relay = new BackendRelay({
    client,
    backend,
    maxMessageBytes: 1024 * 1024,
    pending,
    prepared: names.prepared,
    results: new ResultRelay(undefined),
    limiter: new ResultLimiter({
      toBackend: new BackendWriter(backend),
      pending,
      cancel: async () => {
        cancels++;
      },
    }),
    logger,
    state,
    onReadyForQuery: () => {
      readyCount++;
    },
    pinned: new Map(),
  });
  relay.listen();
  return {
    client,
    backend,
    pending,
    names,
    state,
    relay,
    closes,
    readyCount: () => readyCount,
    cancels: () => cancels,
  };
}

const CONFIG = `
identity:
  devIssuer: { enabled: true }
resources:
  - name: app
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [readers]
        allow: [read]
`;

/** A statement gate over a real session (SQLite audit store in a temp dir, the policy above), sockets in memory. */
export async function gateFixture() {
  const dir = temporaryDirectory('gatehouse-statement-gate-');
  const loaded = parseConfig(CONFIG, `${dir}/gatehouse.yaml`, {});
  const store = await SqliteStore.open(`${dir}/audit.db`);
  await store.migrate();
  const recorder = new AuditRecorder(store, { logger });
  const { policy, approvals } = createApprovals({
    config: loaded.config,
    store,
    recorder,
    clock: systemClock,
    logger,
  });
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  const session = new Session(
    { policy, recorder, clock: systemClock, metrics, config: loaded.config },
    {
      protocol: 'postgres',
      resource: 'app',
      identity: {
        issuer: 'https://issuer.test',
        subject: 'job',
        groups: ['readers'],
        tokenId: 't1',
        expiresAt: Date.now() + 60_000,
        claims: {},
      },
    },
  );
  const relay = relayFixture();
  const tracked: Promise<void>[] = [];
  // The gate gathers what it sends; the session's pump flushes it (here: `sent`).
  const toBackend = new BackendWriter(relay.backend);
  const gate = new StatementGate({
    session,
    relay: relay.relay,
    toBackend,
    pending: relay.pending,
    names: relay.names,
    resourceName: 'app',
    maskingExtra: {},
    overlapReads: false,
    overlapTransactionWrites: false,
    approvals,
    logger,
    metrics,
    state: relay.state,
    track: (done) => tracked.push(done),
  });
  return {
    ...relay,
    gate,
    session,
    /** What reached the backend, once the gathered messages are flushed. */
    async sent(): Promise<Buffer> {
      await toBackend.flush();
      return relay.backend.written();
    },
    store,
    async close() {
      await Promise.allSettled(tracked);
      await session.end('test over');
      await store.close();
    },
  };
}
