import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import type { GatewayMetrics } from './metrics.js';
import { ReviewApi, type ReviewApiOptions } from './review-api.js';
import { PAGE_CSP, PAGE_CSS, PAGE_HTML, PAGE_JS } from './review-page.js';
import { ToolDefinitionApi, type ToolDefinitionApprovals } from './tool-definition-api.js';

export interface AdminServerOptions {
  readonly address: ListenAddress;
  readonly metrics: GatewayMetrics;
  /** Throws when the gateway cannot serve (store unreachable, listeners not up); an object it returns is shown. */
  readonly readiness: () => Promise<unknown>;
  /** The approvers' REST API and web page; absent, only the operations endpoints are served. */
  readonly reviews?: ReviewApiOptions;
  /** Accepting changed MCP tool definitions (needs `reviews` for its token verifier); absent without MCP resources. */
  readonly toolDefinitions?: ToolDefinitionApprovals;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The admin listener, away from the data path: liveness, readiness and Prometheus metrics; the approvers' REST API
 * (`/api/...`) and the reviews web page (`/ui/reviews`).
 */
export class AdminServer {
  private readonly server: Server;
  private readonly routes: Readonly<Record<string, Handler>>;
  private readonly reviewApi: ReviewApi | undefined;
  private readonly toolApi: ToolDefinitionApi | undefined;

  constructor(private readonly options: AdminServerOptions) {
    this.reviewApi = options.reviews === undefined ? undefined : new ReviewApi(options.reviews);
    this.toolApi =
      options.reviews === undefined || options.toolDefinitions === undefined
        ? undefined
        : new ToolDefinitionApi(options.toolDefinitions, options.reviews.verifier);
    this.routes = Object.assign(Object.create(null), {
      'GET /healthz': async (_req: IncomingMessage, res: ServerResponse) => json(res, 200, { status: 'ok' }),
      'GET /readyz': async (_req: IncomingMessage, res: ServerResponse) => {
        try {
          const details = await this.options.readiness();
          json(res, 200, { status: 'ready', ...(details !== null && typeof details === 'object' ? details : {}) });
        } catch (error) {
          json(res, 503, { status: 'not-ready', reason: (error as Error).message });
        }
      },
      'GET /metrics': async (_req: IncomingMessage, res: ServerResponse) => {
        const body = await this.options.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.options.metrics.registry.contentType });
        res.end(body);
      },
      ...(this.reviewApi === undefined
        ? {}
        : {
            'GET /ui/reviews': page('text/html; charset=utf-8', PAGE_HTML),
            'GET /ui/reviews.js': page('text/javascript; charset=utf-8', PAGE_JS),
            'GET /ui/reviews.css': page('text/css; charset=utf-8', PAGE_CSS),
          }),
    });
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const handler = this.routes[`${req.method} ${url.pathname}`];
      const handled = handler
        ? handler(req, res).then(() => true)
        : url.pathname.startsWith('/api/mcp/') && this.toolApi !== undefined
          ? this.toolApi.handle(req, res, url.pathname)
          : url.pathname.startsWith('/api/') && this.reviewApi !== undefined
            ? this.reviewApi.handle(req, res, url.pathname, url.searchParams)
            : Promise.resolve(false);
      handled.then(
        (done) => {
          if (!done) json(res, 404, { error: { code: 'request.not_found', message: 'not found' } });
        },
        () => json(res, 500, { error: { code: 'internal', message: 'internal error' } }),
      );
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

/** A static asset of the reviews page, with headers that keep it from being framed, sniffed or cached. */
function page(contentType: string, body: string): Handler {
  const bytes = Buffer.from(body, 'utf8');
  return async (_req, res) => {
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': bytes.length,
      'content-security-policy': PAGE_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
    res.end(bytes);
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
