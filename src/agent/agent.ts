import { readFileSync } from 'node:fs';
import { createServer as createHttp2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import { TUNNEL_CONNECTION_WINDOW_STREAMS } from '../config/schema-parts.js';
import { readBody } from '../tunnel/stream-body.js';
import { type AgentHello, TUNNEL_ALPN, TUNNEL_HEADERS, TUNNEL_PATHS } from '../tunnel/tunnel-protocol.js';
import { AdminPool } from './admin-pool.js';
import type { AgentConfig, AgentHttpResource, AgentPostgresResource } from './agent-config.js';
import { AgentLogin } from './agent-login.js';
import { nextBackoff } from './backoff.js';
import { EphemeralRoles } from './ephemeral-roles.js';
import { HttpDialer } from './http-dialer.js';
import { rotatePassword } from './password-rotation.js';
import { PgDialer } from './pg-dialer.js';

type StreamHandler = (agent: Agent, stream: ServerHttp2Stream, headers: Record<string, unknown>) => Promise<void>;

/** What the gateway may ask for, by stream path. */
const HANDLERS: Readonly<Record<string, StreamHandler>> = Object.assign(Object.create(null), {
  [TUNNEL_PATHS.identify]: (agent: Agent, stream: ServerHttp2Stream) => agent.identify(stream),
  [TUNNEL_PATHS.pg]: (agent: Agent, stream: ServerHttp2Stream, headers: Record<string, unknown>) =>
    agent.openPg(stream, headers),
  [TUNNEL_PATHS.pgCancel]: (agent: Agent, stream: ServerHttp2Stream, headers: Record<string, unknown>) =>
    agent.cancelPg(stream, headers),
  [TUNNEL_PATHS.http]: (agent: Agent, stream: ServerHttp2Stream, headers: Record<string, unknown>) =>
    agent.forwardHttp(stream, headers),
  [TUNNEL_PATHS.refused]: (agent: Agent, stream: ServerHttp2Stream) => agent.refused(stream),
  [TUNNEL_PATHS.accepted]: (agent: Agent, stream: ServerHttp2Stream) => agent.accepted(stream),
} satisfies Record<string, StreamHandler>);

/**
 * The agent: dials out to the gateway over TLS (verified against a CA or a certificate pin), serves the gateway's
 * streams as the HTTP/2 server on that socket (see tunnel-protocol.ts), and reconnects with backoff and jitter when
 * the tunnel drops. It holds the backend credentials; the gateway never sees them.
 */
export class Agent {
  private readonly pg: PgDialer;
  private readonly http: HttpDialer;
  private readonly logins = new Map<string, AgentLogin>();
  private readonly pools = new Map<string, AdminPool>();
  private readonly ephemeral: ReadonlyMap<string, EphemeralRoles>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private session: ServerHttp2Session | undefined;
  private socket: TLSSocket | undefined;
  private stopped = false;
  private attempt = 0;
  /** Set when the gateway last refused us (why), cleared on a successful identification. */
  lastRefusal: string | undefined;
  /** Waiting for the gateway's next acceptance (tests use it). */
  private identifiedWaiters: (() => void)[] = [];

  constructor(
    private readonly config: AgentConfig,
    private readonly baseDir: string,
    private readonly logger: Logger,
  ) {
    const ephemeral = new Map<string, EphemeralRoles>();
    for (const resource of this.postgresResources()) {
      this.loginFor(resource);
      if (resource.ephemeralRoles !== undefined)
        ephemeral.set(resource.name, new EphemeralRoles(resource.ephemeralRoles, this.poolFor(resource), logger));
    }
    this.pg = new PgDialer(this.logins, logger, ephemeral);
    this.http = new HttpDialer(logger);
    this.ephemeral = ephemeral;
  }

  /** Sweeps leftover session roles, starts rotation schedules, then keeps the tunnel up until `stop()`. */
  async start(): Promise<void> {
    for (const [name, login] of this.logins)
      await login
        .settlePending(this.logger)
        .catch((error: unknown) => this.logger.error({ err: error, resource: name }, 'pending password check failed'));
    for (const [name, roles] of this.ephemeral) {
      await roles.sweep().catch((error: unknown) => this.logger.error({ err: error, resource: name }, 'sweep failed'));
    }
    for (const resource of this.postgresResources()) {
      const rotation = resource.rotation;
      const login = this.logins.get(resource.name);
      if (rotation === undefined || login === undefined) continue;
      let running = false;
      const timer = setInterval(() => {
        // A slow rotation is not overlapped by the next one.
        if (running) return;
        running = true;
        rotatePassword(this.poolFor(resource), login, this.logger)
          .catch((error: unknown) =>
            this.logger.error({ err: error, resource: resource.name }, 'password rotation failed'),
          )
          .finally(() => {
            running = false;
          });
      }, rotation.every);
      timer.unref();
      this.timers.add(timer);
    }
    this.dial();
  }

  /** Ends the tunnel and every relayed session. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.pg.closeAll();
    this.session?.destroy();
    this.socket?.destroy();
    await this.http.close();
    await Promise.all([...this.pools.values()].map((pool) => pool.end().catch(() => undefined)));
  }

  /** Resolves the next time the gateway accepts this agent (after the first identification of a connection). */
  identified(): Promise<void> {
    return new Promise((resolve) => this.identifiedWaiters.push(resolve));
  }

  get connected(): boolean {
    return this.session !== undefined && !this.session.closed && !this.session.destroyed;
  }

  private dial(): void {
    if (this.stopped) return;
    const { gateway } = this.config;
    const pinned = gateway.pin?.replaceAll(':', '').toUpperCase();
    const socket = tlsConnect({
      host: gateway.address.host,
      port: gateway.address.port,
      ...(gateway.serverName !== undefined || isIP(gateway.address.host) === 0
        ? { servername: gateway.serverName ?? gateway.address.host }
        : {}),
      ALPNProtocols: [TUNNEL_ALPN],
      minVersion: 'TLSv1.2',
      ...(gateway.ca !== undefined ? { ca: readFileSync(resolve(this.baseDir, gateway.ca)) } : {}),
      // With a pin and no CA, the chain is not checked by a CA; the pin is checked below, before any byte is sent.
      rejectUnauthorized: gateway.ca !== undefined,
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256?.replaceAll(':', '').toUpperCase();
      if (pinned !== undefined && fingerprint !== pinned) {
        this.logger.error('the gateway certificate does not match the configured pin');
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol !== TUNNEL_ALPN) {
        this.logger.error('the gateway does not speak the tunnel protocol');
        socket.destroy();
        return;
      }
      this.serve(socket);
    });
    socket.once('error', (error) => this.logger.warn({ err: error }, 'gateway connection failed'));
    socket.once('close', () => this.reconnect());
  }

  private serve(socket: TLSSocket): void {
    // A window above Node's 64 KiB default lets a large upload cross a long round trip at speed (streamWindow).
    const server = createHttp2Server({
      maxSessionMemory: 64,
      settings: { initialWindowSize: this.config.streamWindow },
    });
    server.on('session', (session) => {
      this.session = session;
      session.setLocalWindowSize(this.config.streamWindow * TUNNEL_CONNECTION_WINDOW_STREAMS);
      session.on('error', (error) => this.logger.warn({ err: error }, 'tunnel error'));
      session.once('close', () => {
        this.pg.closeAll();
        socket.destroy();
      });
      this.startHeartbeat(session);
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      const handler = HANDLERS[String(headers[':path'])];
      if (handler === undefined) {
        stream.respond({ ':status': 404 }, { endStream: true });
        return;
      }
      handler(this, stream, headers as Record<string, unknown>).catch((error: unknown) => {
        this.logger.error({ err: error }, 'tunnel stream failed');
        stream.destroy();
      });
    });
    server.emit('connection', socket);
  }

  /** PING the gateway; one unanswered for twice the interval means the tunnel is dead: drop and redial. */
  private startHeartbeat(session: ServerHttp2Session): void {
    const interval = this.config.heartbeat;
    let outstandingSince: number | undefined;
    const timer = setInterval(() => {
      if (session.closed || session.destroyed) {
        clearInterval(timer);
        return;
      }
      if (outstandingSince !== undefined) {
        if (Date.now() - outstandingSince > 2 * interval) {
          this.logger.warn('the gateway missed its heartbeat; reconnecting');
          session.destroy();
        }
        return;
      }
      outstandingSince = Date.now();
      session.ping(() => {
        outstandingSince = undefined;
      });
    }, interval);
    timer.unref();
    session.once('close', () => clearInterval(timer));
  }

  private reconnect(): void {
    this.session = undefined;
    if (this.stopped) return;
    const delay = nextBackoff(this.attempt++, this.config.reconnect.min, this.config.reconnect.max);
    this.logger.info({ delayMs: delay }, 'reconnecting to the gateway');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.dial();
    }, delay);
    this.timers.add(timer);
  }

  // --- stream handlers (called through HANDLERS) ---

  async identify(stream: ServerHttp2Stream): Promise<void> {
    // Re-read every time: the platform refreshes the file (projected service-account tokens).
    const token = readFileSync(resolve(this.baseDir, this.config.token.file), 'utf8').trim();
    const hello: AgentHello = {
      token,
      name: this.config.name,
      ...(this.config.group === undefined ? {} : { group: this.config.group }),
      resources: this.config.resources.map((r) => ({ name: r.name, protocol: r.protocol })),
    };
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify(hello));
  }

  async accepted(stream: ServerHttp2Stream): Promise<void> {
    stream.respond({ ':status': 204 }, { endStream: true });
    this.attempt = 0;
    this.lastRefusal = undefined;
    this.logger.info('the gateway accepted this agent');
    for (const waiter of this.identifiedWaiters.splice(0)) waiter();
  }

  async openPg(stream: ServerHttp2Stream, headers: Record<string, unknown>): Promise<void> {
    const resource = this.resource(headers, 'postgres');
    if (resource === undefined) return notServed(stream);
    await this.pg.open(stream, headers, resource);
  }

  async cancelPg(stream: ServerHttp2Stream, headers: Record<string, unknown>): Promise<void> {
    await this.pg.cancel(String(headers[TUNNEL_HEADERS.session] ?? ''));
    stream.respond({ ':status': 204 }, { endStream: true });
  }

  async forwardHttp(stream: ServerHttp2Stream, headers: Record<string, unknown>): Promise<void> {
    const resource = this.resource(headers, 'http') ?? this.resource(headers, 'mcp');
    if (resource === undefined) return notServed(stream);
    await this.http.forward(stream, headers, resource);
  }

  async refused(stream: ServerHttp2Stream): Promise<void> {
    const reason = (await readBody(stream, 4096)).toString('utf8');
    this.lastRefusal = reason;
    // A refusal will not fix itself quickly: wait the longest backoff before trying again.
    this.attempt = Math.max(this.attempt, 30);
    this.logger.error({ reason }, 'the gateway refused this agent');
    stream.respond({ ':status': 204 }, { endStream: true });
  }

  private resource(headers: Record<string, unknown>, protocol: 'postgres'): AgentPostgresResource | undefined;
  private resource(headers: Record<string, unknown>, protocol: 'http' | 'mcp'): AgentHttpResource | undefined;
  private resource(headers: Record<string, unknown>, protocol: 'postgres' | 'http' | 'mcp') {
    const name = String(headers[TUNNEL_HEADERS.resource] ?? '');
    return this.config.resources.find((r) => r.name === name && r.protocol === protocol);
  }

  private loginFor(resource: AgentPostgresResource): AgentLogin {
    let login = this.logins.get(resource.name);
    if (login === undefined) {
      login = new AgentLogin(resource, this.baseDir);
      this.logins.set(resource.name, login);
    }
    return login;
  }

  private postgresResources(): AgentPostgresResource[] {
    return this.config.resources.filter((r): r is AgentPostgresResource => r.protocol === 'postgres');
  }

  private poolFor(resource: AgentPostgresResource): AdminPool {
    let pool = this.pools.get(resource.name);
    if (pool === undefined) {
      pool = new AdminPool(this.loginFor(resource));
      this.pools.set(resource.name, pool);
    }
    return pool;
  }
}

function notServed(stream: ServerHttp2Stream): void {
  stream.respond({ ':status': 404, [TUNNEL_HEADERS.error]: 'resource-not-served' }, { endStream: true });
}
