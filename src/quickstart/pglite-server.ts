import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { serialize } from 'pg-protocol';
import {
  encodeAuthenticationOk,
  encodeErrorResponse,
  REFUSE_ENCRYPTION,
} from '../protocols/postgres/wire/backend-messages.js';
import { FieldWriter } from '../protocols/postgres/wire/field-writer.js';
import { type Frame, FrameReader } from '../protocols/postgres/wire/frame-reader.js';
import { decodeStartupPacket, type StartupMessage } from '../protocols/postgres/wire/frontend-messages.js';
import { AUTHENTICATION, BACKEND, FRONTEND } from '../protocols/postgres/wire/message-codes.js';

export interface PgliteServerOptions {
  readonly db: PGlite;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The only user name accepted, and its password (md5 authentication, as the gateway's resource credential). */
  readonly user: string;
  readonly password: string;
  /** How long a connection may wait for the session ahead of it before it is refused (SQLSTATE 53300). */
  readonly queueTimeoutMs?: number;
}

/** Startup parameters applied to the session with set_config; others (`client_encoding`, `options`...) are not. */
const SESSION_SETTINGS = new Set([
  'application_name',
  'DateStyle',
  'TimeZone',
  'IntervalStyle',
  'extra_float_digits',
  'default_transaction_read_only',
]);

/**
 * Serves one PGlite database over TCP, one session at a time, with md5 password authentication.
 *
 * Hand-written rather than `@electric-sql/pglite-socket`'s PGLiteSocketServer for two reasons: that server has no
 * authentication (anyone on loopback is `postgres`), and with `maxConnections > 1` its connections share PGlite's one
 * backend session, so one client's SET, prepared statements and `default_transaction_read_only` (the gateway's
 * defence in depth for read-only callers) leak into another's. Here a connection waits until the session ahead of it
 * ends; the session's state is then reset (ROLLBACK, DISCARD ALL) before the next one starts.
 */
export class PgliteServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Resolves when the current session has ended and its state has been reset. */
  private turn: Promise<void> = Promise.resolve();
  private readonly queueTimeoutMs: number;

  constructor(private readonly options: PgliteServerOptions) {
    this.queueTimeoutMs = options.queueTimeoutMs ?? 30_000;
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('PGlite server has no TCP address');
    return { host: bound.address, port: bound.port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    // Let the last session's reset finish before the caller closes the database.
    await this.turn;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    this.serve(socket).catch(() => socket.destroy());
  }

  private async serve(socket: Socket): Promise<void> {
    const frames = new SocketMessages(socket);
    let startup: StartupMessage;
    for (;;) {
      const request = decodeStartupPacket(await frames.startup());
      if (request.type === 'SSLRequest' || request.type === 'GSSENCRequest') {
        socket.write(REFUSE_ENCRYPTION);
        continue;
      }
      // PGlite has no backend process to signal: a CancelRequest is answered, as by the server, with nothing.
      if (request.type === 'CancelRequest') return void socket.destroy();
      startup = request;
      break;
    }
    if (!(await this.authenticate(socket, frames, startup))) return;
    const released = await this.waitForTurn(socket);
    if (released === undefined) return;
    try {
      await this.runSession(socket, frames, startup);
    } finally {
      await this.reset().finally(released);
    }
  }

  /** md5 authentication: the password never crosses the socket, not even on loopback. */
  private async authenticate(socket: Socket, frames: SocketMessages, startup: StartupMessage): Promise<boolean> {
    const { user, password } = this.options;
    const salt = randomBytes(4);
    socket.write(new FieldWriter().int32(AUTHENTICATION.MD5Password).bytes(salt).message(BACKEND.Authentication));
    const answer = await frames.message();
    const expected = Buffer.from(`md5${md5(Buffer.concat([Buffer.from(md5(password + user)), salt]))}\0`);
    const given = answer.body;
    const ok =
      answer.code === FRONTEND.PasswordMessage &&
      startup.parameters['user'] === user &&
      given.length === expected.length &&
      timingSafeEqual(given, expected);
    if (!ok) {
      fail(socket, '28P01', `password authentication failed for user "${startup.parameters['user'] ?? ''}"`);
      return false;
    }
    return true;
  }

  /** Waits for the session ahead to end; resolves with the function that lets the next one in. */
  private async waitForTurn(socket: Socket): Promise<(() => void) | undefined> {
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      previous.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.queueTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut || socket.destroyed) {
      // Keep the queue's order: this connection's turn passes on once the one ahead is done.
      void previous.then(release);
      if (timedOut) fail(socket, '53300', 'the quickstart PGlite database serves one session at a time and it is busy');
      return undefined;
    }
    return release;
  }

  /** Starts PGlite's session, applies the startup settings, then relays each message until Terminate or close. */
  private async runSession(socket: Socket, frames: SocketMessages, startup: StartupMessage): Promise<void> {
    const { db } = this.options;
    const greeting: Buffer[] = [];
    // runExclusive takes PGlite's query lock, which query() and exec() take themselves: they run outside it.
    await db.runExclusive(() =>
      db.execProtocolRawStream(serialize.startup({ user: this.options.user, database: 'postgres' }), {
        onRawData: (data) => greeting.push(Buffer.from(data)),
      }),
    );
    for (const [name, value] of Object.entries(startup.parameters))
      if (SESSION_SETTINGS.has(name)) await db.query('SELECT set_config($1, $2, false)', [name, value]);
    // PGlite's own startup answer holds AuthenticationOk, ParameterStatus and ReadyForQuery; it answers the password.
    const answer = Buffer.concat(greeting);
    socket.write(answer.length > 0 ? answer : encodeAuthenticationOk());
    for (;;) {
      const frame = await frames.message().catch(() => undefined);
      if (frame === undefined || frame.code === FRONTEND.Terminate) return;
      await db.runExclusive(() =>
        db.execProtocolRawStream(new Uint8Array(frame.bytes), {
          onRawData: (data) => {
            if (!socket.destroyed) socket.write(Buffer.from(data));
          },
        }),
      );
    }
  }

  /** What the next session must not inherit: an open transaction, settings, prepared statements, temp tables. */
  private async reset(): Promise<void> {
    const { db } = this.options;
    if (db.closed) return;
    if (db.isInTransaction()) await db.exec('ROLLBACK');
    await db.exec('DISCARD ALL');
  }
}

function md5(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function fail(socket: Socket, code: string, message: string): void {
  if (!socket.destroyed) socket.end(encodeErrorResponse({ severity: 'FATAL', code, message }));
}

/** Messages from one socket, in order; rejects when the socket closes. */
class SocketMessages {
  private readonly reader = new FrameReader({ maxMessageBytes: 64 * 1024 * 1024 });
  private waiting: (() => void) | undefined;
  private ended = false;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  startup() {
    return this.read(() => this.reader.nextStartup());
  }

  message(): Promise<Frame> {
    return this.read(() => this.reader.next());
  }

  private async read<T>(next: () => T | undefined): Promise<T> {
    for (;;) {
      const item = next();
      if (item !== undefined) return item;
      if (this.ended) throw new Error('connection closed');
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
