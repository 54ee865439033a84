import type { HttpResourceConfig, McpResourceConfig, PostgresResourceConfig } from '../config/schema.js';
import { DirectHttpConnector, type HttpConnector } from '../protocols/http/connector.js';
import type { McpConnector } from '../protocols/mcp/connector.js';
import { directConnector } from '../protocols/mcp/direct-connector.js';
import { HttpMcpConnector } from '../protocols/mcp/http-connector.js';
import type { BackendConnectOptions, BackendConnector } from '../protocols/postgres/startup/backend-connector.js';
import { DirectConnector } from '../protocols/postgres/startup/direct-connector.js';
import type { AgentRegistry } from '../tunnel/agent-registry.js';
import { TunnelHttpConnector } from '../tunnel/tunnel-http-connector.js';
import { TunnelPgConnector } from '../tunnel/tunnel-pg-connector.js';

/**
 * Chooses each resource's connector by its `via`: direct, or through a connected agent. Lives in gateway/ because
 * it is the one place that knows both the protocols and the tunnel (neither imports the other).
 */
export function postgresConnector(agents: AgentRegistry | undefined): BackendConnector | undefined {
  if (agents === undefined) return undefined;
  const direct = new DirectConnector();
  const tunnel = new TunnelPgConnector(agents);
  return {
    connect: (resource: PostgresResourceConfig, options: BackendConnectOptions) =>
      resource.via === 'agent' ? tunnel.connect(resource, options) : direct.connect(resource, options),
  };
}

export function httpConnectorFor(agents: AgentRegistry | undefined): (resource: HttpResourceConfig) => HttpConnector {
  return (resource) =>
    resource.via === 'agent' && agents !== undefined
      ? new TunnelHttpConnector(resource, agents)
      : new DirectHttpConnector(resource);
}

/** MCP: a Streamable HTTP server's requests go through an agent (which injects the credential) for `via: agent`. */
export function mcpConnectorFor(
  agents: AgentRegistry | undefined,
  log: (resource: string, message: string, error?: unknown) => void,
): (resource: McpResourceConfig) => McpConnector {
  return (resource) => {
    const logFor = (message: string, error?: unknown) => log(resource.name, message, error);
    const upstream = resource.upstream;
    if (resource.via !== 'agent' || agents === undefined || upstream.transport !== 'http')
      return directConnector(resource, logFor);
    const route = {
      name: resource.name,
      ...(resource.agentGroup === undefined ? {} : { agentGroup: resource.agentGroup }),
      timeouts: { headers: resource.callTimeout },
    };
    return new HttpMcpConnector(resource, upstream, new TunnelHttpConnector(route, agents), logFor);
  };
}
