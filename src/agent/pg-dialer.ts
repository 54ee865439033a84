import { randomUUID } from 'node:crypto';
import type { ServerHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import { isGatehouseError } from '../core/errors.js';
import type { BackendConnection } from '../protocols/postgres/startup/backend-connector.js';
import { DirectConnector } from '../protocols/postgres/startup/direct-connector.js';
import { parseJsonHeader, TUNNEL_HEADERS } from '../tunnel/tunnel-protocol.js';
import type { AgentPostgresResource } from './agent-config.js';
import type { AgentLogin } from './agent-login.js';
import type { EphemeralRoles } from './ephemeral-roles.js';

/** Startup parameters the agent passes on (the gateway already filtered them; this is the agent's own allow-list). */
const PASSED_PARAMETERS = new Set(['DateStyle', 'TimeZone', 'IntervalStyle', 'extra_float_digits']);

/**
 * Serves PG streams: opens the backend session with the agent's own credential (the gateway's direct connector does
 * the startup and login, here on the agent's side of the tunnel), then relays protocol bytes between the stream and
 * the backend. The backend's cancel key never leaves the agent: the gateway cancels by the session's handle.
 */
export class PgDialer {
  private readonly sessions = new Map<string, BackendConnection>();
  private readonly connector = new DirectConnector({ connectTimeoutMs: 10_000 });

  constructor(
    private readonly logins: ReadonlyMap<string, AgentLogin>,
    private readonly logger: Logger,
    private readonly ephemeral: ReadonlyMap<string, EphemeralRoles>,
  ) {}

  async open(stream: ServerHttp2Stream, headers: Record<string, unknown>, resource: AgentPostgresResource) {
    const readOnly = headers[TUNNEL_HEADERS.readOnly] !== '0';
    const applicationName = String(headers[TUNNEL_HEADERS.applicationName] ?? 'gatehouse').slice(0, 63);
    const parameters: Record<string, string> = {};
    for (const [key, value] of Object.entries(parseJsonHeader(headers[TUNNEL_HEADERS.parameters] as string)))
      if (PASSED_PARAMETERS.has(key) && typeof value === 'string') parameters[key] = value;

    const login = this.logins.get(resource.name);
    const roles = this.ephemeral.get(resource.name);
    let dropRole: (() => Promise<void>) | undefined;
    let backend: BackendConnection;
    const options = { readOnly, applicationName, parameters };
    try {
      if (login === undefined) throw new Error(`no login for ${resource.name}`);
      if (roles !== undefined) {
        const role = await roles.create(readOnly);
        dropRole = role.drop;
        const own = login.current();
        backend = await this.connector.connect(
          { ...own, target: { ...own.target, user: role.user, password: role.password } },
          options,
        );
      } else backend = await login.whileLoggingIn((own) => this.connector.connect(own, options));
    } catch (error) {
      await dropRole?.().catch(() => undefined);
      this.logger.warn(
        { resource: resource.name, reason: isGatehouseError(error) ? error.details['reason'] : String(error) },
        'backend connection failed',
      );
      if (!stream.destroyed)
        stream.respond(
          {
            ':status': isGatehouseError(error) && error.code === 'upstream.timeout' ? 504 : 502,
            [TUNNEL_HEADERS.error]: 'backend-unavailable',
          },
          { endStream: true },
        );
      return;
    }
    if (stream.destroyed || stream.closed) {
      backend.socket.destroy();
      await dropRole?.().catch(() => undefined);
      return;
    }
    const handle = randomUUID();
    this.sessions.set(handle, backend);
    stream.respond({
      ':status': 200,
      [TUNNEL_HEADERS.session]: handle,
      [TUNNEL_HEADERS.parameters]: JSON.stringify(Object.fromEntries(backend.parameters)),
    });
    const socket = backend.socket;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.sessions.delete(handle);
      socket.destroy();
      if (!stream.destroyed) stream.close();
      void dropRole?.().catch((error: unknown) =>
        this.logger.error({ err: error, resource: resource.name }, 'could not drop the session role'),
      );
    };
    socket.on('error', end);
    socket.on('close', end);
    stream.on('error', end);
    stream.on('close', end);
    // pipe() applies backpressure both ways: a slow client pauses this backend only (per-stream flow control).
    socket.pipe(stream);
    stream.pipe(socket);
  }

  async cancel(handle: string): Promise<void> {
    await this.sessions.get(handle)?.cancel();
  }

  /** Ends every relayed session (the tunnel is gone). */
  closeAll(): void {
    for (const backend of this.sessions.values()) backend.socket.destroy();
  }
}
