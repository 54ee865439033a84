import { createServer, type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpResourceConfig, ListenAddress } from '../../config/schema.js';
import type { Listener } from '../../core/listener.js';
import { closeGracefully, httpServerLimits, listenOn } from '../http-server-lifecycle.js';
import type { GatewayServices } from '../protocol-services.js';
import { collectionDirectoryFor, priceTableFor, type ResourceContext } from './call-inspection.js';
import { HttpClassifier } from './classify.js';
import { DirectHttpConnector, type HttpConnector } from './connector.js';
import { handleRequest } from './request-pipeline.js';
import type { HttpPipeline } from './request-stages.js';
import { RouteTable } from './route-table.js';
import { HttpSessionRegistry } from './session-registry.js';

/**
 * The HTTP listener: one server for every HTTP resource. Each request runs the named stages of request-pipeline.ts
 * (authenticate, route, inspect, decide, approve, confine, reserve, forward).
 */
export class HttpListener implements Listener {
  readonly protocol = 'http';
  private readonly server: Server;
  private readonly routes: RouteTable;
  private readonly contexts = new Map<string, ResourceContext>();
  private readonly sessions: HttpSessionRegistry;
  private readonly sockets = new Set<Socket>();

  constructor(
    services: GatewayServices,
    private readonly address: ListenAddress,
    connectorFor: (resource: HttpResourceConfig) => HttpConnector = (resource) => new DirectHttpConnector(resource),
  ) {
    const resources = services.config.resources.filter((r): r is HttpResourceConfig => r.protocol === 'http');
    this.routes = new RouteTable(resources);
    for (const resource of resources) {
      const directory = collectionDirectoryFor(resource);
      const prices = priceTableFor(resource, services.config.quotas.budgets);
      this.contexts.set(resource.name, {
        resource,
        classifier: new HttpClassifier(resource.name, resource.operations, {
          ...(resource.profile === undefined ? {} : { profile: resource.profile }),
          target: resource.target,
        }),
        connector: connectorFor(resource),
        ...(directory ? { directory } : {}),
        ...(prices ? { prices } : {}),
      });
    }
    this.sessions = new HttpSessionRegistry(services);
    const pipeline: HttpPipeline = { services, routes: this.routes, contexts: this.contexts, sessions: this.sessions };
    this.server = createServer(
      { ...httpServerLimits(services.config.http), keepAliveTimeout: 5_000 },
      (req, res) => void handleRequest(pipeline, req, res),
    );
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Malformed requests (bad framing, oversized headers) never reach `handle`: answer and drop the connection.
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = JSON.stringify({
        error: { type: 'gatehouse_error', code: 'request.invalid', message: 'malformed request' },
      });
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
  }

  start(): Promise<{ host: string; port: number }> {
    return listenOn(this.server, this.address);
  }

  async stop(): Promise<void> {
    await closeGracefully(this.server, this.sockets);
    await this.sessions.close();
    await Promise.all([...this.contexts.values()].map((c) => c.connector.close()));
  }
}
