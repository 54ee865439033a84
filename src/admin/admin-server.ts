import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import type { GatewayMetrics } from './metrics.js';

export interface AdminServerOptions {
  readonly address: ListenAddress;
  readonly metrics: GatewayMetrics;
  /** Throws when the gateway cannot serve (store unreachable, listeners not up). */
  readonly readiness: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Operations endpoints: liveness, readiness and Prometheus metrics, on their own port away from the data path. */
export class AdminServer {
  private readonly server: Server;
  private readonly routes: Readonly<Record<string, Handler>>;

  constructor(private readonly options: AdminServerOptions) {
    this.routes = Object.assign(Object.create(null), {
      'GET /healthz': async (_req: IncomingMessage, res: ServerResponse) => json(res, 200, { status: 'ok' }),
      'GET /readyz': async (_req: IncomingMessage, res: ServerResponse) => {
        try {
          await this.options.readiness();
          json(res, 200, { status: 'ready' });
        } catch (error) {
          json(res, 503, { status: 'not-ready', reason: (error as Error).message });
        }
      },
      'GET /metrics': async (_req: IncomingMessage, res: ServerResponse) => {
        const body = await this.options.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.options.metrics.registry.contentType });
        res.end(body);
      },
    });
    this.server = createServer((req, res) => {
      const handler = this.routes[`${req.method} ${(req.url ?? '/').split('?')[0]}`];
      if (!handler) return json(res, 404, { error: { code: 'request.not_found', message: 'not found' } });
      handler(req, res).catch(() => json(res, 500, { error: { code: 'internal', message: 'internal error' } }));
    });
  }

  async start(): Promise<{ host: string; port: number }> {
    this.server.listen(this.options.address.port, this.options.address.host);
    await once(this.server, 'listening');
    const bound = this.server.address() as AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
