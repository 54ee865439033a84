import type { ClientHttp2Stream } from 'node:http2';
import type { PostgresResourceConfig } from '../config/schema.js';
import { GatehouseError } from '../core/errors.js';
import type {
  BackendConnection,
  BackendConnectOptions,
  BackendConnector,
} from '../protocols/postgres/startup/backend-connector.js';
import type { AgentRegistry, ConnectedAgent } from './agent-registry.js';
import { awaitResponse, openStream } from './agent-streams.js';
import { parseJsonHeader, TUNNEL_HEADERS, TUNNEL_PATHS } from './tunnel-protocol.js';

/** A backend session opened through an agent: also says which agent served it, for the session's audit record. */
export interface TunnelBackendConnection extends BackendConnection {
  readonly servedBy: string;
}

/**
 * Opens PostgreSQL backend sessions through a connected agent: one HTTP/2 stream per session, carrying protocol
 * bytes after the agent has done the startup and login with its own credential. The gateway holds no password.
 */
export class TunnelPgConnector implements BackendConnector {
  constructor(
    private readonly registry: AgentRegistry,
    private readonly connectTimeoutMs = 15_000,
  ) {}

  async connect(resource: PostgresResourceConfig, options: BackendConnectOptions): Promise<TunnelBackendConnection> {
    const agent = this.registry.pick(resource.name, resource.agentGroup);
    if (agent === undefined) throw new GatehouseError('upstream.no_agent');
    const stream = openStream(agent, {
      ':method': 'POST',
      ':path': TUNNEL_PATHS.pg,
      [TUNNEL_HEADERS.resource]: resource.name,
      [TUNNEL_HEADERS.readOnly]: options.readOnly ? '1' : '0',
      [TUNNEL_HEADERS.applicationName]: options.applicationName,
      [TUNNEL_HEADERS.parameters]: JSON.stringify(options.parameters ?? {}),
    });
    const headers = await awaitResponse(stream, this.connectTimeoutMs);
    const status = Number(headers[':status']);
    if (status !== 200) {
      stream.destroy();
      throw new GatehouseError(status === 504 ? 'upstream.timeout' : 'upstream.unavailable', undefined, {
        details: { reason: `agent ${agent.id}: ${String(headers[TUNNEL_HEADERS.error] ?? status)}` },
      });
    }
    const parameters = new Map<string, string>();
    for (const [name, value] of Object.entries(parseJsonHeader(headers[TUNNEL_HEADERS.parameters] as string)))
      if (typeof value === 'string') parameters.set(name, value);
    const handle = String(headers[TUNNEL_HEADERS.session] ?? '');
    stream.pause();
    return {
      socket: stream,
      parameters,
      key: undefined,
      servedBy: agent.id,
      cancel: () => cancelThrough(agent, resource.name, handle),
    };
  }
}

/** Cancel as a control message: the agent holds the backend's cancel key and sends the CancelRequest itself. */
function cancelThrough(agent: ConnectedAgent, resource: string, handle: string): Promise<void> {
  return new Promise<void>((resolve) => {
    if (agent.session.closed || agent.session.destroyed || handle === '') return resolve();
    let stream: ClientHttp2Stream;
    try {
      stream = agent.session.request(
        {
          ':method': 'POST',
          ':path': TUNNEL_PATHS.pgCancel,
          [TUNNEL_HEADERS.resource]: resource,
          [TUNNEL_HEADERS.session]: handle,
        },
        { endStream: true },
      );
    } catch {
      return resolve();
    }
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
    stream.resume();
  });
}
