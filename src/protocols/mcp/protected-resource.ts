import type { IncomingMessage } from 'node:http';
import type { GatehouseConfig } from '../../config/schema.js';

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * The gateway's own origin as the caller reached it, for the metadata URLs. The Host header is the caller's; it is
 * accepted only as a plain host[:port], so nothing else can be written into the URLs.
 */
export function originOf(req: IncomingMessage): string {
  const host = req.headers.host;
  const plain = host !== undefined && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host);
  return `http://${plain ? host : '127.0.0.1'}`;
}

/** OAuth 2.0 Protected Resource Metadata (RFC 9728) of one MCP resource: where callers get tokens for it. */
export function resourceMetadata(config: GatehouseConfig, origin: string, resource: string): Record<string, unknown> {
  const servers = config.identity.issuers.map((issuer) => issuer.issuer);
  return {
    resource: `${origin}/mcp/${resource}`,
    authorization_servers: servers,
    bearer_methods_supported: ['header'],
    resource_name: `Gatehouse MCP resource ${resource}`,
  };
}

/**
 * The `WWW-Authenticate` header of a 401, as the MCP authorization specification asks: it points at the metadata,
 * and says `invalid_token` when a token was presented but not accepted.
 */
export function authenticateHeader(origin: string, resource: string, invalid: boolean): string {
  const metadata = `${origin}${METADATA_PATH}/mcp/${resource}`;
  return `Bearer resource_metadata="${metadata}"${invalid ? ', error="invalid_token"' : ''}`;
}
