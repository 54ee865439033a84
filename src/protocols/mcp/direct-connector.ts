import type { McpResourceConfig } from '../../config/schema.js';
import type { McpConnector } from './connector.js';
import { HttpMcpConnector } from './http-connector.js';
import { NodeHttpTransport } from './mcp-http-transport.js';
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
    ? new HttpMcpConnector(resource, upstream, new NodeHttpTransport(upstream.url), log)
    : new SdkMcpConnector(resource, upstream, log);
}
