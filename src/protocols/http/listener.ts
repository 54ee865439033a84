import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HttpResourceConfig, ListenAddress } from '../../config/schema.js';
import { GatehouseError } from '../../core/errors.js';
import type { GatewayServices, Listener } from '../../gateway/services.js';
import type { OperationHandle } from '../../session/session.js';
import { readInferenceModel } from './classify.js';
import { DirectHttpConnector, type HttpConnector, upstreamError } from './connector.js';
import { sendError } from './error-response.js';
import { callerResponseHeaders, presentedToken, upstreamRequestHeaders } from './headers.js';
import { countBytes, readBodyLimited } from './request-body.js';
import { parseRequestPath } from './request-path.js';
import { type HttpRoute, RouteTable } from './route-table.js';
import { HttpSessionRegistry } from './session-registry.js';

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * The HTTP data path: authenticate, route, classify, decide and record, then stream the request to the resource's
 * upstream with its credential injected and stream the answer back.
 */
export class HttpListener implements Listener {
  readonly protocol = 'http';
  private readonly server: Server;
  private readonly routes: RouteTable;
  private readonly connectors = new Map<string, HttpConnector>();
  private readonly sessions: HttpSessionRegistry;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly services: GatewayServices,
    private readonly address: ListenAddress,
    connectorFor: (resource: HttpResourceConfig) => HttpConnector = (resource) => new DirectHttpConnector(resource),
  ) {
    const resources = services.config.resources.filter((r): r is HttpResourceConfig => r.protocol === 'http');
    this.routes = new RouteTable(resources);
    for (const resource of resources) this.connectors.set(resource.name, connectorFor(resource));
    this.sessions = new HttpSessionRegistry(services);
    const http = services.config.http;
    this.server = createServer(
      {
        maxHeaderSize: http.maxHeaderBytes,
        headersTimeout: http.headersTimeout,
        // Node enforces headersTimeout only when requestTimeout is set, checking every connectionsCheckingInterval.
        requestTimeout: http.requestTimeout,
        connectionsCheckingInterval: Math.min(1_000, Math.max(100, http.headersTimeout / 4)),
        keepAliveTimeout: 5_000,
      },
      (req, res) => void this.handle(req, res),
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

  async start(): Promise<{ host: string; port: number }> {
    this.server.listen(this.address.port, this.address.host);
    await once(this.server, 'listening');
    const bound = this.server.address() as AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // Give in-flight requests a moment, then cut what is left.
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, 2_000);
    await closed;
    clearTimeout(deadline);
    await this.sessions.close();
    await Promise.all([...this.connectors.values()].map((c) => c.close()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { metrics, logger } = this.services;
    let resourceName = 'none';
    let handle: OperationHandle | undefined;
    try {
      const path = parseRequestPath(req.url ?? '');
      if (!path) throw new GatehouseError('request.invalid', 'the request path is not acceptable');
      const token = presentedToken(req.headers);
      if (!token) throw new GatehouseError(token === undefined ? 'auth.missing_token' : 'auth.invalid_token');
      const identity = await this.services.verifier.verify(token);
      const route = this.routes.match(req.headers.host, path.segments);
      if (!route) throw new GatehouseError('request.not_found', 'no resource is configured for this path');
      resourceName = route.resource.name;

      const method = req.method ?? 'GET';
      const shape = { method, segments: path.segments.slice(route.prefixSegments.length) };
      const classification = route.classifier.classify(shape);
      let body: Buffer | undefined;
      let inspected = {};
      if (classification.inference && !BODYLESS_METHODS.has(method)) {
        body = await readBodyLimited(req, this.services.config.http.maxInspectedBodyBytes);
        inspected = readInferenceModel(body);
      }
      const operation = route.classifier.toOperation(shape, classification, inspected);
      const session = this.sessions.sessionFor(identity, req.socket.remoteAddress);
      handle = await session.begin(operation);
      const { decision } = handle;
      if (decision.verdict !== 'allow') {
        // A body the gateway cannot read is the caller's mistake: say so with 400, though policy denied it too.
        const code =
          decision.verdict === 'review'
            ? 'policy.review_required'
            : decision.reason === 'unclassifiable'
              ? 'request.invalid'
              : 'policy.denied';
        const message =
          decision.verdict === 'review'
            ? `approval is required for this operation (${decision.rule.id}); approvals are not available yet, so it was not run`
            : decision.message;
        await handle.finish({ outcome: 'refused', status: code === 'request.invalid' ? 400 : 403 });
        metrics.requests.inc({
          protocol: 'http',
          resource: resourceName,
          outcome: decision.verdict === 'review' ? 'review' : 'denied',
        });
        throw new GatehouseError(code, message, { details: { rule: decision.rule.id, reason: decision.reason } });
      }
      await this.forward(req, res, route, path.raw.slice(prefixLength(route)) + path.query, body, handle);
      metrics.requests.inc({ protocol: 'http', resource: resourceName, outcome: 'ok' });
    } catch (error) {
      const failure =
        error instanceof GatehouseError ? error : new GatehouseError('internal', undefined, { cause: error });
      if (failure.code.startsWith('auth.')) {
        metrics.authFailures.inc({ protocol: 'http' });
        metrics.requests.inc({ protocol: 'http', resource: resourceName, outcome: 'unauthenticated' });
        logger.warn(
          { reason: failure.details.reason ?? failure.code, client: req.socket.remoteAddress },
          'token rejected',
        );
      } else if (!failure.code.startsWith('policy.')) {
        metrics.requests.inc({ protocol: 'http', resource: resourceName, outcome: 'error' });
        if (failure.code === 'internal') logger.error({ err: error }, 'request failed');
        else logger.info({ code: failure.code, resource: resourceName }, 'request failed');
      }
      if (handle && !res.headersSent && !failure.code.startsWith('policy.') && failure.code !== 'request.invalid') {
        await handle.finish({ outcome: 'error', error: failure.code }).catch(() => undefined);
      }
      sendError(res, failure);
    }
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    route: HttpRoute,
    upstreamPath: string,
    body: Buffer | undefined,
    handle: OperationHandle,
  ): Promise<void> {
    const connector = this.connectors.get(route.resource.name) as HttpConnector;
    const abort = new AbortController();
    const onClientGone = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClientGone);
    const method = req.method ?? 'GET';
    const headers = upstreamRequestHeaders(req.headers, route.resource.credential, req.socket.remoteAddress);
    const requestBytes = { bytes: body?.length ?? 0 };
    let requestBody: Buffer | AsyncIterable<Buffer> | null = null;
    if (body) {
      headers['content-length'] = String(body.length);
      requestBody = body;
    } else if (!BODYLESS_METHODS.has(method) || req.headers['content-length'] || req.headers['transfer-encoding']) {
      requestBody = countBytes(req, requestBytes);
    }
    const timer = this.services.metrics.upstreamSeconds.startTimer({ protocol: 'http', resource: route.resource.name });
    const upstream = await connector.request({
      method,
      path: upstreamPath,
      headers,
      body: requestBody,
      signal: abort.signal,
    });
    timer();
    res.writeHead(upstream.statusCode, callerResponseHeaders(upstream.headers));
    res.flushHeaders();
    const contentType = upstream.headers['content-type'];
    handle.capture({
      type: 'http-head',
      status: upstream.statusCode,
      ...(contentType ? { contentType: String(contentType) } : {}),
    });
    let bytesOut = 0;
    try {
      for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
        bytesOut += chunk.length;
        handle.capture({ type: 'http-body', chunk });
        if (!res.write(chunk)) await once(res, 'drain', { signal: abort.signal });
      }
    } catch (error) {
      upstream.body.destroy();
      await handle
        .finish({
          outcome: 'error',
          status: upstream.statusCode,
          bytesIn: requestBytes.bytes,
          bytesOut,
          error: abort.signal.aborted ? 'client-disconnected' : 'upstream-stream-failed',
        })
        .catch(() => undefined);
      res.destroy();
      if (!abort.signal.aborted)
        this.services.logger.info({ err: upstreamError(error).code }, 'upstream stream failed');
      return;
    } finally {
      res.off('close', onClientGone);
    }
    // The result record is durable before the response completes: a caller never sees a finished, unrecorded answer.
    try {
      await handle.finish({ outcome: 'ok', status: upstream.statusCode, bytesIn: requestBytes.bytes, bytesOut });
    } catch {
      res.destroy();
      return;
    }
    res.end();
  }
}

function prefixLength(route: HttpRoute): number {
  return route.resource.pathPrefix?.length ?? 0;
}
