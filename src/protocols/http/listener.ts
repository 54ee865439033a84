import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HttpResourceConfig, ListenAddress } from '../../config/schema.js';
import { GatehouseError } from '../../core/errors.js';
import type { Listener } from '../../core/listener.js';
import { maskingNote, resolveMasking } from '../../masking/profile.js';
import type { OperationHandle } from '../../session/session.js';
import type { GatewayServices } from '../protocol-services.js';
import { withBlastRadius } from './blast-radius.js';
import {
  collectionDirectoryFor,
  inspectCall,
  type OutgoingBody,
  outgoingBody,
  priceTableFor,
  type ResourceContext,
} from './call-inspection.js';
import { CallMeter } from './call-meter.js';
import { HttpClassifier } from './classify.js';
import { DirectHttpConnector, type HttpConnector } from './connector.js';
import { errorStatus, sendError, sendQuotaRefusal } from './error-response.js';
import { forward } from './forwarder.js';
import { presentedToken } from './headers.js';
import { awaitHttpApproval } from './request-approval.js';
import { refuseBodyOnRead } from './request-body.js';
import { parseRequestPath, upstreamPath } from './request-path.js';
import { RouteTable } from './route-table.js';
import { HttpSessionRegistry } from './session-registry.js';
import { confirmTenantOwnership } from './tenant-ownership.js';

/**
 * The HTTP data path, in order per request: authenticate, route, classify with the resource's provider profile
 * (collection ids resolved), decide and record, rewrite for the tenant and for stream usage, reserve budget, then
 * stream the request to the upstream with its credential injected and the answer back (usage tap, masking), settling
 * the budget and recording the result before the caller sees the end.
 */
export class HttpListener implements Listener {
  readonly protocol = 'http';
  private readonly server: Server;
  private readonly routes: RouteTable;
  private readonly contexts = new Map<string, ResourceContext>();
  private readonly sessions: HttpSessionRegistry;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly services: GatewayServices,
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
    await Promise.all([...this.contexts.values()].map((c) => c.connector.close()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { metrics, logger, config } = this.services;
    const limit = config.http.maxInspectedBodyBytes;
    let resourceName = 'none';
    // The operation record still waiting for its result; cleared once a result is recorded.
    let open: OperationHandle | undefined;
    let meter: CallMeter | undefined;
    try {
      const path = parseRequestPath(req.url ?? '');
      if (!path) throw new GatehouseError('request.invalid', 'the request path is not acceptable');
      const token = presentedToken(req.headers);
      if (!token) throw new GatehouseError(token === undefined ? 'auth.missing_token' : 'auth.invalid_token');
      const identity = await this.services.verifier.verify(token);
      const route = this.routes.match(req.headers.host, path.segments);
      if (!route) throw new GatehouseError('request.not_found', 'no resource is configured for this path');
      resourceName = route.resource.name;
      const context = this.contexts.get(resourceName) as ResourceContext;

      const method = (req.method ?? 'GET').toUpperCase();
      refuseBodyOnRead(method, req.headers);
      const shape = {
        method,
        segments: path.segments.slice(route.prefixSegments.length),
        query: new URLSearchParams(path.query),
      };
      // Masking is resolved per caller from the resource's profile and the token's groups; prompts are masked
      // before they are recorded or sent, and the record notes the profile or the exemption.
      const masking = resolveMasking(route.resource.masking, identity.groups);
      // Filter deletes on resources with maxPoints are counted first (blast-radius.ts).
      const inspected = await withBlastRadius(
        context,
        await inspectCall(req, context, shape, masking, limit),
        identity,
        shape,
      );
      const session = this.sessions.sessionFor(identity, req.socket.remoteAddress);
      const handle = await session.begin(inspected.operation, {
        ...inspected.note,
        ...maskingNote(masking),
        ...(inspected.maskedRequest.empty ? {} : { maskedRequest: inspected.maskedRequest.toRecord() }),
      });
      open = handle;
      const { decision } = handle;
      let inspectedCall = inspected;
      if (decision.verdict === 'review') {
        open = undefined;
        const approval = await awaitHttpApproval(req, res, {
          approvals: this.services.approvals,
          publicUrl: config.approvals.publicUrl,
          identity,
          sessionId: session.id,
          handle,
          inspected,
          path,
          masking,
          bodyLimit: limit,
        });
        metrics.requests.inc({
          protocol: 'http',
          resource: resourceName,
          outcome: approval.run ? 'approved' : 'review',
        });
        if (!approval.run) {
          if (approval.refusal) throw approval.refusal;
          return;
        }
        open = handle;
        inspectedCall = approval.inspected;
      } else if (decision.verdict !== 'allow') {
        // A body the gateway cannot read is the caller's mistake: say so with 400, though policy denied it too.
        const code = decision.reason === 'unclassifiable' ? 'request.invalid' : 'policy.denied';
        open = undefined;
        await handle.finish({ outcome: 'refused', status: code === 'request.invalid' ? 400 : 403 });
        metrics.requests.inc({ protocol: 'http', resource: resourceName, outcome: 'denied' });
        throw new GatehouseError(code, decision.message, {
          details: { rule: decision.rule.id, reason: decision.reason },
        });
      }
      // After the decision, before the upstream: confine the call to the caller's tenant, ask for stream usage.
      let outgoing: OutgoingBody;
      try {
        outgoing = outgoingBody(context, inspectedCall, identity, limit);
        // A write by id must not land on another tenant's record (see tenant-ownership.ts).
        await confirmTenantOwnership(context, inspectedCall, identity, shape);
      } catch (error) {
        if (!(error instanceof GatehouseError)) throw error;
        open = undefined;
        await handle.finish({ outcome: 'refused', status: errorStatus(error), error: error.code });
        if (error.code === 'policy.denied')
          metrics.requests.inc({ protocol: 'http', resource: resourceName, outcome: 'denied' });
        throw error;
      }
      const model = inspectedCall.call.model;
      const price = model === undefined ? undefined : context.prices?.priceOf(model);
      const start = await CallMeter.open(
        this.services.quotas,
        identity,
        resourceName,
        inspectedCall.call,
        logger,
        price,
      );
      if (!start.ok) {
        const { refusal } = start;
        open = undefined;
        await handle.finish({ outcome: 'refused', status: 429, error: 'quota.exceeded', quota: { ...refusal } });
        metrics.requests.inc({ protocol: 'http', resource: resourceName, outcome: 'denied' });
        logger.info({ resource: resourceName, budget: refusal.budget }, 'budget exhausted');
        sendQuotaRefusal(res, refusal, this.services.clock.now());
        return;
      }
      meter = start.meter;
      await forward(this.services, req, res, {
        resource: route.resource,
        connector: context.connector,
        // Rebuilt from the segments policy judged, never cut from the raw path (`/ap%69/v1/x` is `/api/v1/x`).
        path: upstreamPath(path, route.prefixSegments.length),
        body: outgoing.body,
        handle,
        masking,
        metered: inspectedCall.call.metered,
        stripUsage: outgoing.stripUsage,
        meter,
      });
      open = undefined;
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
      // The upstream never answered (or the answer could not be relayed): release or charge the reservation.
      const settled = meter ? await meter.settle(undefined, undefined, failure) : {};
      if (open && !res.headersSent) {
        // The agent a failed call went to (via: agent), set by the tunnel connector.
        const servedBy = failure.details.servedBy;
        await open
          .finish({
            outcome: 'error',
            error: failure.code,
            ...settled,
            ...(typeof servedBy === 'string' ? { servedBy } : {}),
          })
          .catch(() => undefined);
      }
      sendError(res, failure);
    } finally {
      // Every reservation is settled once, whatever happened above (a no-op when already settled).
      await meter?.settle(undefined, undefined).catch(() => undefined);
    }
  }
}
