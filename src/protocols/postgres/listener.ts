import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ListenAddress, PostgresResourceConfig } from '../../config/schema.js';
import { GatehouseError, isGatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { Listener } from '../../core/listener.js';
import type { Operation } from '../../core/operation.js';
import { Session } from '../../session/session.js';
import type { GatewayServices } from '../protocol-services.js';
import { ProxySession } from './proxy-session.js';
import { loadSqlClassifier } from './sql/classify.js';
import { PARSE_IN_WORKER_ABOVE } from './sql/large-statements.js';
import { ParsePool } from './sql/parse-pool.js';
import type { BackendConnection, BackendConnector } from './startup/backend-connector.js';
import { CancelKeys } from './startup/cancel-keys.js';
import { type ClientLogin, negotiateClientStartup } from './startup/client-startup.js';
import { DirectConnector } from './startup/direct-connector.js';
import { brokenPin, pinnedFor, startupSettings } from './startup/startup-parameters.js';
import {
  type ErrorFields,
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeErrorResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
} from './wire/backend-messages.js';
import { errorFieldsFor, SESSION_SQLSTATE, sessionFatal } from './wire/error-response.js';

export interface PostgresListenerOptions {
  /** How backend sessions are opened; direct TCP by default. */
  readonly connector?: BackendConnector;
  /** A client must finish the start-up flow (up to its password) within this time, or it is disconnected. */
  readonly startupTimeoutMs?: number;
  /** Largest frontend message; a longer one ends the session with SQLSTATE 54000. */
  readonly maxMessageBytes?: number;
  /** Largest backend message relayed (DataRows are held whole). */
  readonly backendMaxMessageBytes?: number;
  /** PEM certificate and key: SSLRequest is then accepted. Without them clients are answered `N` (plain TCP). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Accept the token on plain TCP. Defaults to `postgres.allowPlaintextPassword`. */
  readonly allowPlaintextPassword?: boolean;
  /** Defaults to `postgres.maxStatementBytes`. */
  readonly maxStatementBytes?: number;
  /** Defaults to `postgres.statementParseTimeout`. */
  readonly statementParseTimeoutMs?: number;
  /** Statements longer than this (bytes of their message) are classified on a worker thread; 64 KiB by default. */
  readonly parseInWorkerAbove?: number;
}

/**
 * The PostgreSQL listener: speaks the server side of the protocol to unmodified clients (psql, node-postgres,
 * postgres.js, pgbench), logs them in with an OIDC token given as the password, and relays each session to the
 * resource the `database` parameter names, through a ProxySession that decides every statement.
 *
 * The token arrives as a cleartext password, so on plain TCP it is only as safe as the network path: configure
 * `tls` (or keep the listener on loopback) in production.
 */
export class PostgresListener implements Listener {
  readonly protocol = 'postgres';
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<ProxySession>();
  private readonly cancelKeys = new CancelKeys();
  private readonly connector: BackendConnector;
  private readonly startupTimeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly backendMaxMessageBytes: number;
  private readonly tls: SecureContext | undefined;
  private readonly allowPlaintextPassword: boolean;
  private stopping = false;
  /** Large statements are classified on worker threads, within a size cap and a time budget. */
  private readonly parsePool: ParsePool;
  private readonly parseInWorkerAbove: number;

  constructor(
    private readonly services: GatewayServices,
    private readonly address: ListenAddress | undefined = services.config.listen.postgres,
    options: PostgresListenerOptions = {},
  ) {
    const configured = services.config.postgres;
    this.connector = options.connector ?? new DirectConnector();
    this.startupTimeoutMs = options.startupTimeoutMs ?? configured.startupTimeout;
    this.maxMessageBytes = options.maxMessageBytes ?? configured.maxMessageBytes;
    this.backendMaxMessageBytes = options.backendMaxMessageBytes ?? 256 * 1024 * 1024;
    this.allowPlaintextPassword = options.allowPlaintextPassword ?? configured.allowPlaintextPassword;
    const tls =
      options.tls ??
      (configured.tls && {
        cert: readFileSync(resolve(services.baseDir, configured.tls.cert)),
        key: readFileSync(resolve(services.baseDir, configured.tls.key)),
      });
    this.tls = tls === undefined ? undefined : createSecureContext({ cert: tls.cert, key: tls.key });
    const maxStatementBytes = options.maxStatementBytes ?? configured.maxStatementBytes;
    this.parsePool = new ParsePool({
      maxStatementBytes,
      timeoutMs: options.statementParseTimeoutMs ?? configured.statementParseTimeout,
    });
    // Every statement over the cap goes through the pool, which refuses it.
    this.parseInWorkerAbove = Math.min(options.parseInWorkerAbove ?? PARSE_IN_WORKER_ABOVE, maxStatementBytes);
  }

  async start(): Promise<{ host: string; port: number }> {
    const address = this.address;
    if (address === undefined) throw new GatehouseError('config.invalid', 'listen.postgres is not configured');
    await loadSqlClassifier();
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string')
      throw new GatehouseError('internal', 'listener has no TCP address');
    this.services.logger.info(
      { host: bound.address, port: bound.port, tls: this.tls !== undefined },
      'postgres listener started',
    );
    return { host: bound.address, port: bound.port };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const server = this.server;
    const closed =
      server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const shutdown = sessionFatal(SESSION_SQLSTATE.adminShutdown, 'terminating connection due to gateway shutdown');
    await Promise.all([...this.sessions].map((session) => session.close('gateway shutdown', shutdown)));
    for (const socket of this.sockets) socket.destroy();
    await this.parsePool.stop();
    await closed;
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', (error) => this.services.logger.debug({ err: error }, 'postgres client socket error'));
    this.handshake(socket).catch((error: unknown) => {
      this.services.logger.error({ err: error }, 'postgres connection failed unexpectedly');
      socket.destroy();
    });
  }

  private async handshake(socket: Socket): Promise<void> {
    // A client that never finishes its start-up is dropped, as the server does (authentication_timeout).
    const timer = setTimeout(() => socket.destroy(), this.startupTimeoutMs);
    let login: ClientLogin;
    try {
      const startup = await negotiateClientStartup(socket, {
        maxMessageBytes: this.maxMessageBytes,
        tls: this.tls,
        allowPlaintextPassword: this.allowPlaintextPassword,
      });
      if (startup.type === 'cancel') {
        socket.destroy();
        await this.cancelKeys.cancel(startup.request);
        return;
      }
      login = startup;
    } catch (error) {
      refuse(socket, errorFieldsFor(error, 'FATAL'));
      return;
    } finally {
      clearTimeout(timer);
    }
    await this.login(login);
  }

  private async login(login: ClientLogin): Promise<void> {
    const { socket, startup } = login;
    const services = this.services;
    let identity: Identity;
    try {
      if (login.password === '') throw new GatehouseError('auth.missing_token');
      identity = await services.verifier.verify(login.password);
    } catch (error) {
      services.metrics.authFailures.inc({ protocol: 'postgres' });
      // The reason stays in the gateway's log; the client learns only that the token was not accepted.
      services.logger.info(
        { reason: isGatehouseError(error) ? error.details['reason'] : undefined, user: startup.parameters['user'] },
        'postgres login refused',
      );
      refuse(
        socket,
        errorFieldsFor(
          isGatehouseError(error) && error.code === 'auth.missing_token'
            ? error
            : new GatehouseError('auth.invalid_token'),
          'FATAL',
        ),
      );
      return;
    }
    const userName = startup.parameters['user'] as string;
    const database = startup.parameters['database'] || userName;
    const resource = services.config.resources.find(
      (r): r is PostgresResourceConfig => r.protocol === 'postgres' && r.name === database,
    );
    if (resource === undefined) {
      refuse(socket, { severity: 'FATAL', code: '3D000', message: `database "${database}" does not exist` });
      return;
    }
    const session = new Session(services, {
      protocol: 'postgres',
      identity,
      resource: resource.name,
      clientAddress: socket.remoteAddress,
      userName,
    });
    try {
      await session.start();
    } catch (error) {
      services.logger.error({ err: error }, 'postgres session could not be recorded; refused');
      refuse(socket, errorFieldsFor(new GatehouseError('audit.unavailable'), 'FATAL'));
      return;
    }
    const readOnly = this.isReadOnly(identity, resource);
    const pinned = pinnedFor(readOnly);
    let backend: BackendConnection;
    try {
      backend = await this.connector.connect(resource, {
        readOnly,
        applicationName: (startup.parameters['application_name'] || 'gatehouse').slice(0, 63),
        parameters: startupSettings(startup.parameters),
      });
    } catch (error) {
      services.logger.warn(
        { resource: resource.name, reason: isGatehouseError(error) ? error.details['reason'] : String(error) },
        'backend connection failed',
      );
      refuse(
        socket,
        errorFieldsFor(isGatehouseError(error) ? error : new GatehouseError('upstream.unavailable'), 'FATAL'),
      );
      await session.end('backend unavailable').catch(() => undefined);
      return;
    }
    // The readings only: a server that applies default_transaction_read_only after its own startup answer (the
    // quickstart's PGlite server) reports it off there; a later report of it changing still ends the session.
    const broken = brokenPin(pinnedFor(false), backend.parameters);
    if (broken !== undefined) {
      // The server would read statements otherwise than the gateway classifies them (or let a reader write).
      services.logger.error(
        { resource: resource.name, parameter: broken, value: backend.parameters.get(broken) },
        'backend session did not take a pinned setting; refused',
      );
      backend.socket.destroy();
      refuse(socket, errorFieldsFor(new GatehouseError('upstream.unavailable'), 'FATAL'));
      await session.end(`backend did not take the pinned setting ${broken}`).catch(() => undefined);
      return;
    }
    session.servedBy = backend.servedBy;
    if (socket.destroyed || this.stopping) {
      backend.socket.destroy();
      await session.end('client disconnected during login').catch(() => undefined);
      return;
    }
    const proxy = new ProxySession({
      client: socket,
      clientReader: login.reader,
      backend,
      session,
      resource,
      clock: services.clock,
      logger: services.logger.child({ protocol: 'postgres', resource: resource.name }),
      metrics: services.metrics,
      backendMaxMessageBytes: this.backendMaxMessageBytes,
      approvals: services.approvals,
      approvalsPublicUrl: services.config.approvals.publicUrl,
      overlapReads: services.config.audit.overlapReads,
      overlapTransactionWrites: services.config.audit.overlapTransactionWrites,
      pinned,
      parsePool: this.parsePool,
      parseInWorkerAbove: this.parseInWorkerAbove,
    });
    const key = this.cancelKeys.issue(proxy);
    this.sessions.add(proxy);
    void proxy.closed.then(() => {
      this.sessions.delete(proxy);
      this.cancelKeys.remove(key.processId);
    });
    const greeting: Buffer[] = [encodeAuthenticationOk()];
    for (const [name, value] of backend.parameters) greeting.push(encodeParameterStatus(name, value));
    greeting.push(encodeBackendKeyData(key.processId, key.secretKey), encodeReadyForQuery('I'));
    socket.write(Buffer.concat(greeting));
    proxy.start();
  }

  /**
   * Defence in depth: when policy would deny this caller every write, ddl and admin operation on the resource (not
   * send it to review: an approved write must run), the backend session itself is read-only and uses the resource's
   * read-only login when one is configured, so a misclassified statement still cannot write. Decided at login: an
   * access window granted later applies to the caller's next session.
   */
  private isReadOnly(identity: Identity, resource: PostgresResourceConfig): boolean {
    return (['write', 'ddl', 'admin'] as const).every((kind) => {
      const probe: Operation = {
        protocol: 'postgres',
        resource: resource.name,
        kind,
        tags: [],
        action: kind.toUpperCase(),
        text: '(read-only check at login)',
      };
      return this.services.policy.decide(probe, { identity }).verdict === 'deny';
    });
  }
}

/** Sends a FATAL ErrorResponse and closes: the end of a failed start-up. */
function refuse(socket: Socket, fields: ErrorFields): void {
  if (socket.destroyed) return;
  socket.end(encodeErrorResponse(fields));
  setTimeout(() => socket.destroy(), 5_000).unref();
}
