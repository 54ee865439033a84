import type { McpResourceConfig } from '../../config/schema.js';
import { DirectHttpConnector, type HttpConnector } from '../http/connector.js';
import type { McpConnector } from './connector.js';
import { HttpMcpConnector } from './http-connector.js';
import { SdkMcpConnector } from './sdk-connector.js';

/**
 * The connector for a resource the gateway reaches itself (`via: direct`): Streamable HTTP by hand
 * (http-connector.ts), stdio through the SDK. `via: agent` ones are made in gateway/agent-connectors.ts.
 */
export function directConnector(
  resource: McpResourceConfig,
  log?: (message: string, error?: unknown) => void,
): McpConnector {
  const upstream = resource.upstream;
  return upstream.transport === 'http'
    ? new HttpMcpConnector(resource, upstream, mcpHttpTransport(resource, upstream.url), log)
    : new SdkMcpConnector(resource, upstream, log);
}

/**
 * The HTTP data path's undici pool to the server's origin (the connector sends the endpoint's path). No header or
 * body timeout of undici's: a call is bounded by `callTimeout` (http-connector.ts), and the notification stream
 * stays open as long as the session.
 */
function mcpHttpTransport(resource: McpResourceConfig, url: string): HttpConnector {
  const connect = Math.min(resource.callTimeout, 10_000);
  return new DirectHttpConnector({ target: new URL(url).origin, timeouts: { connect, headers: 0, idle: 0 } });
}
