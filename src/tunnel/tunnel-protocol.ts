/**
 * The agent tunnel's wire contract, shared by the gateway (src/tunnel) and the agent (src/agent).
 *
 * Transport: the agent dials the gateway over TLS (nothing in the backend's network accepts inbound connections),
 * then the roles flip: the agent is the HTTP/2 *server* on that socket and the gateway the HTTP/2 client
 * ("reverse HTTP/2"). HTTP/2 is chosen over WebSocket because node:http2 gives many streams on one connection with
 * per-stream flow control built in (a slow PostgreSQL session or a long SSE response cannot stall the others), PING
 * for heartbeats, and no framing of our own; only an HTTP/2 client opens streams, so the gateway, which knows when a
 * backend connection is needed, is the client.
 *
 * Streams the gateway opens (all POST):
 * - IDENTIFY: the agent answers with its current token (re-read from its file) and what it offers; the gateway
 *   verifies it like a caller's token, and asks again before the token expires.
 * - PG: open a PostgreSQL backend session; response headers carry the startup parameters, then the stream carries
 *   protocol bytes both ways.
 * - PG_CANCEL: cancel what a PG stream's backend session runs (the agent sends the CancelRequest).
 * - HTTP: one upstream request; request/response bodies stream; the agent injects the credential.
 * - ACCEPTED: the gateway has registered the agent (it resets its backoff).
 * - REFUSED: the gateway tells the agent why it is refused before closing (the agent logs it and backs off).
 */
export const TUNNEL_ALPN = 'gatehouse-tunnel/1';

export const TUNNEL_PATHS = {
  identify: '/gatehouse/identify',
  pg: '/gatehouse/pg',
  pgCancel: '/gatehouse/pg-cancel',
  http: '/gatehouse/http',
  refused: '/gatehouse/refused',
  accepted: '/gatehouse/accepted',
} as const;

export const TUNNEL_HEADERS = {
  resource: 'gatehouse-resource',
  readOnly: 'gatehouse-read-only',
  applicationName: 'gatehouse-application-name',
  /** JSON object of startup parameters (request) or ParameterStatus pairs (response). */
  parameters: 'gatehouse-parameters',
  /** The agent's handle of a PG stream's backend session, for PG_CANCEL. */
  session: 'gatehouse-session',
  /** A stable error code when the agent could not serve (the detail stays in the agent's logs). */
  error: 'gatehouse-error',
  method: 'gatehouse-method',
  path: 'gatehouse-path',
  /** JSON object of the upstream request or response headers (HTTP/2 forbids some HTTP/1 headers as its own). */
  headers: 'gatehouse-headers',
  status: 'gatehouse-status',
  /** `1` when the HTTP request has a body (it follows as the stream's data). */
  hasBody: 'gatehouse-has-body',
} as const;

/** Protocols an agent may serve: PostgreSQL, and HTTP (APIs and Streamable HTTP MCP servers) on the HTTP streams. */
export const AGENT_PROTOCOLS = ['postgres', 'http', 'mcp'] as const;
export type AgentProtocol = (typeof AGENT_PROTOCOLS)[number];

/** What the agent announces in its IDENTIFY answer. */
export interface AgentHello {
  readonly token: string;
  /** A name for logs and audit (the token's subject is the identity that counts). */
  readonly name: string;
  readonly group?: string;
  readonly resources: readonly { readonly name: string; readonly protocol: AgentProtocol }[];
}

/** Largest IDENTIFY answer or JSON header the gateway reads from an agent. */
export const MAX_HELLO_BYTES = 64 * 1024;

/** Parses and checks an IDENTIFY answer; throws on anything malformed (the agent is then refused). */
export function parseHello(text: string): AgentHello {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object') throw new Error('hello is not an object');
  const hello = value as Record<string, unknown>;
  if (typeof hello.token !== 'string' || hello.token.length === 0) throw new Error('hello has no token');
  if (typeof hello.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(hello.name)) throw new Error('bad name');
  if (hello.group !== undefined && (typeof hello.group !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(hello.group)))
    throw new Error('bad group');
  if (!Array.isArray(hello.resources) || hello.resources.length > 256) throw new Error('bad resources');
  const resources = hello.resources.map((entry: unknown) => {
    const r = entry as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object' || typeof r.name !== 'string' || r.name.length > 128)
      throw new Error('bad resource');
    if (!(AGENT_PROTOCOLS as readonly unknown[]).includes(r.protocol)) throw new Error('bad resource protocol');
    return { name: r.name, protocol: r.protocol as AgentProtocol };
  });
  return {
    token: hello.token,
    name: hello.name,
    ...(typeof hello.group === 'string' ? { group: hello.group } : {}),
    resources,
  };
}

/** Parses a JSON header of string values (or string arrays) into a null-prototype record. */
export function parseJsonHeader(text: string | string[] | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  if (typeof text !== 'string' || text.length === 0) return out;
  if (text.length > MAX_HELLO_BYTES) throw new Error('header too large');
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('header is not an object');
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry === 'string') out[name] = entry;
    else if (Array.isArray(entry) && entry.every((item) => typeof item === 'string')) out[name] = entry as string[];
  }
  return out;
}
