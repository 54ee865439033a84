import type { ListenAddress } from '../config/schema.js';
import { HttpListener } from '../protocols/http/listener.js';
import { PostgresListener } from '../protocols/postgres/listener.js';
import { httpConnectorFor, postgresConnector } from './agent-connectors.js';
import type { GatewayServices, Listener } from './services.js';

export type ListenerFactory = (services: GatewayServices, address: ListenAddress) => Listener;

/** Protocols by the name their `listen` key uses. A new protocol registers here and nowhere else. */
export const PROTOCOL_LISTENERS: Readonly<Record<string, ListenerFactory>> = Object.assign(Object.create(null), {
  http: (services: GatewayServices, address: ListenAddress) =>
    new HttpListener(services, address, httpConnectorFor(services.agents)),
  postgres: (services: GatewayServices, address: ListenAddress) => {
    const connector = postgresConnector(services.agents);
    return new PostgresListener(services, address, connector === undefined ? {} : { connector });
  },
} satisfies Record<string, ListenerFactory>);
