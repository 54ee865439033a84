import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 hop-by-hop fields, never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** The caller's own credentials: stripped always, so the upstream sees only the injected credential. */
const CALLER_CREDENTIALS = new Set(['authorization', 'x-api-key', 'api-key', 'cookie']);

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const listed = new Set<string>();
  const value = headers.connection;
  if (value) for (const name of value.split(',')) listed.add(name.trim().toLowerCase());
  return listed;
}

/** Headers for the upstream request: caller credentials and hop-by-hop fields removed, `host` left to the client. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  credential: { header: string; value: string } | undefined,
  clientAddress: string | undefined,
): Record<string, string | string[]> {
  const listed = connectionListed(incoming);
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name === 'host' || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (CALLER_CREDENTIALS.has(name)) continue;
    out[name] = value;
  }
  if (clientAddress) {
    const previous = incoming['x-forwarded-for'];
    out['x-forwarded-for'] = previous ? `${previous}, ${clientAddress}` : clientAddress;
  }
  if (credential) out[credential.header.toLowerCase()] = credential.value;
  return out;
}

/** Headers for the caller: hop-by-hop fields removed; framing is the gateway's own. */
export function callerResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** `Authorization: Bearer <token>` (OpenAI SDKs), or `x-api-key` (Anthropic SDKs): the token goes where the key went. */
export function presentedToken(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : '';
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}
