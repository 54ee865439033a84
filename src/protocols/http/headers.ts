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

/**
 * Request headers the upstream may see (allow-list: a header not named here is dropped). Left out on purpose: the
 * caller's credentials (`authorization`, `x-api-key`, `api-key`, `cookie`); headers that pick an account or
 * billing scope the gateway's credential stands for (`openai-organization`, `openai-project`); method overrides
 * (`x-http-method-override`, `x-http-method`, `x-method-override`), which would run another method than the one
 * judged; and `forwarded`, `x-forwarded-*`, `x-real-ip`, which the gateway writes itself.
 */
const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-encoding',
  'content-length',
  'content-type',
  'idempotency-key',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-unmodified-since',
  'pragma',
  'user-agent',
  'x-request-id',
  // Tracing (W3C Trace Context).
  'traceparent',
  'tracestate',
  // API versions and betas the SDKs send: they change the response's shape, not whose data it is.
  'openai-beta',
  'anthropic-version',
  'anthropic-beta',
  'x-pinecone-api-version',
]);

/** SDK telemetry (`x-stainless-os`, `x-stainless-retry-count`...): harmless, and some upstreams log it. */
const FORWARDED_PREFIXES: readonly string[] = ['x-stainless-'];

function isForwardedRequestHeader(name: string): boolean {
  return FORWARDED_REQUEST_HEADERS.has(name) || FORWARDED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const listed = new Set<string>();
  const value = headers.connection;
  if (value) for (const name of value.split(',')) listed.add(name.trim().toLowerCase());
  return listed;
}

/**
 * Headers for the upstream request: only allow-listed ones (never hop-by-hop fields or those `Connection` names),
 * `host` left to the client, `x-forwarded-for` the gateway's own (the caller's address only: a caller-supplied chain
 * is not passed on), and the resource's credential.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  credential: { header: string; value: string } | undefined,
  clientAddress: string | undefined,
): Record<string, string | string[]> {
  const listed = connectionListed(incoming);
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (!isForwardedRequestHeader(name)) continue;
    out[name] = value;
  }
  if (clientAddress) out['x-forwarded-for'] = clientAddress;
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
