import type { ListenAddress } from '../config/schema.js';
import type { Listener } from '../core/listener.js';
import { HttpListener } from '../protocols/http/listener.js';
import { McpListener } from '../protocols/mcp/listener.js';
import { PostgresListener } from '../protocols/postgres/listener.js';
import { httpConnectorFor, mcpConnectorFor, postgresConnector } from './agent-connectors.js';
import type { ComposedServices } from './services.js';

export type ListenerFactory = (services: ComposedServices, address: ListenAddress) => Listener;

/** Protocols by the name their `listen` key uses. A new protocol registers here and nowhere else. */
export const PROTOCOL_LISTENERS: Readonly<Record<string, ListenerFactory>> = Object.assign(Object.create(null), {
  http: (services: ComposedServices, address: ListenAddress) =>
    new HttpListener(services, address, httpConnectorFor(services.agents)),
  postgres: (services: ComposedServices, address: ListenAddress) => {
    const connector = postgresConnector(services.agents);
    return new PostgresListener(services, address, connector === undefined ? {} : { connector });
  },
  mcp: (services: ComposedServices, address: ListenAddress) =>
    new McpListener(
      services,
      address,
      mcpConnectorFor(services.agents, (resource, message, error) =>
        services.logger.warn({ err: error, resource }, message),
      ),
    ),
} satisfies Record<string, ListenerFactory>);
