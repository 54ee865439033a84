import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { PostgresResourceConfig } from '../config/schema.js';
import { GatehouseError } from '../core/errors.js';
import type {
  BackendConnection,
  BackendConnectOptions,
  BackendConnector,
} from '../protocols/postgres/backend-connector.js';
import type { AgentRegistry, ConnectedAgent } from './agent-registry.js';
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

/** Opens a stream and counts it against the agent while it is open (spreading picks the least busy agent). */
export function openStream(
  agent: ConnectedAgent,
  headers: Record<string, string>,
  endStream = false,
): ClientHttp2Stream {
  let stream: ClientHttp2Stream;
  try {
    stream = agent.session.request(headers, { endStream });
  } catch (error) {
    throw new GatehouseError('upstream.unavailable', undefined, {
      cause: error,
      details: { reason: `agent ${agent.id} tunnel is closing` },
    });
  }
  agent.active++;
  stream.once('close', () => {
    agent.active--;
  });
  return stream;
}

/** Resolves with the response headers; rejects when the stream fails or the agent does not answer in time. */
export function awaitResponse(stream: ClientHttp2Stream, timeoutMs: number): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(
        new GatehouseError('upstream.timeout', undefined, { details: { reason: 'agent did not answer in time' } }),
      );
    }, timeoutMs);
    const fail = (error: unknown) => {
      clearTimeout(timer);
      reject(
        new GatehouseError('upstream.unavailable', undefined, {
          cause: error,
          details: { reason: `agent stream failed: ${error instanceof Error ? error.message : 'closed'}` },
        }),
      );
    };
    const closed = () => fail(undefined);
    stream.once('error', fail);
    stream.once('close', closed);
    stream.once('response', (headers) => {
      clearTimeout(timer);
      stream.off('error', fail);
      stream.off('close', closed);
      resolve(headers);
    });
  });
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
