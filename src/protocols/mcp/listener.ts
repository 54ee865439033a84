import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { PendingToolDefinition, ToolDefinitionApprovals } from '../../admin/tool-definition-api.js';
import type { ListenAddress, McpResourceConfig } from '../../config/schema.js';
import { GatehouseError, isGatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { Listener } from '../../core/listener.js';
import { countUnrecorded } from '../../session/outcome.js';
import { closeGracefully, httpServerLimits, listenOn } from '../http-server-lifecycle.js';
import type { GatewayServices } from '../protocol-services.js';
import { CallBudgets } from './call-budgets.js';
import { McpClassifier } from './classify.js';
import type { McpConnector } from './connector.js';
import { directConnector } from './direct-connector.js';
import { failureOf } from './error-response.js';
import type { ProgressSink } from './held-call.js';
import { errorMessage, notificationMessage, parseMessage, RPC_ERRORS, RpcError } from './jsonrpc.js';
import { handleMessage, type MessageServices, SUPPORTED_VERSIONS } from './message-handler.js';
import { authenticateHeader, METADATA_PATH, originOf, resourceMetadata } from './protected-resource.js';
import type { McpResourceContext } from './resource-context.js';
import { type McpSession, McpSessionRegistry } from './session-registry.js';
import { ResourceSubscriptions } from './subscriptions.js';
import { ToolPins } from './tool-pins.js';

const SESSION_HEADER = 'mcp-session-id';
const KEEPALIVE_MS = 25_000;

/**
 * The MCP data path: callers speak Streamable HTTP at `/mcp/<resource>` (POST a JSON-RPC message, GET a stream for
 * the server's notifications, DELETE to end the session). Per POST: authenticate (401 pointing at the RFC 9728
 * metadata), find the caller's own session, read the message (bounded), then decide, record and relay it
 * (message-handler.ts). Answers are JSON, or an event stream when a held call sends progress.
 */
export class McpListener implements Listener {
  readonly protocol = 'mcp';
  private readonly server: Server;
  private readonly contexts = new Map<string, McpResourceContext>();
  private readonly sessions: McpSessionRegistry;
  private readonly sockets = new Set<Socket>();
  private readonly messages: MessageServices;
  readonly pins: ToolPins;

  constructor(
    private readonly services: GatewayServices,
    private readonly address: ListenAddress,
    connectorFor: (resource: McpResourceConfig) => McpConnector = (resource) =>
      directConnector(resource, (message, error) =>
        services.logger.warn({ err: error, resource: resource.name }, message),
      ),
  ) {
    this.pins = new ToolPins(services.store, (event) => services.recorder.record(event), services.clock);
    this.sessions = new McpSessionRegistry(services, (entry) =>
      this.contexts.get(entry.resource)?.subscriptions.drop(entry),
    );
    for (const resource of services.config.resources) {
      if (resource.protocol !== 'mcp') continue;
      const connector = connectorFor(resource);
      connector.onNotification((method, params) => this.relayNotice(resource.name, method, params));
      this.contexts.set(resource.name, {
        resource,
        classifier: new McpClassifier(resource),
        connector,
        budgets: new CallBudgets(resource, services.clock, services.store),
        pins: this.pins,
        subscriptions: new ResourceSubscriptions(connector, (message, error) =>
          services.logger.warn({ err: error, resource: resource.name }, message),
        ),
      });
    }
    this.messages = {
      policy: services.policy,
      sessions: this.sessions,
      approvals: services.approvals,
      publicUrl: services.config.approvals.publicUrl,
    };
    // The request must arrive within the HTTP limits; a call held for review afterwards is not cut by them.
    this.server = createServer(httpServerLimits(services.config.http), (req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Changed tool definitions for approvers on the admin API (accepting one needs a group of `toolApprovers`). */
  toolDefinitions(): ToolDefinitionApprovals {
    const resources = [...this.contexts.values()].map((c) => c.resource);
    return {
      approvableBy: (identity) =>
        resources.filter((r) => r.toolApprovers.some((group) => identity.groups.includes(group))).map((r) => r.name),
      pending: (resource): Promise<readonly PendingToolDefinition[]> => this.pins.pending(resource),
      // Recorded under a session of its own: the acceptance is the approver's act, not a caller's.
      accept: (resource, tool, fingerprint, by) =>
        this.pins.acceptChange(resource, tool, fingerprint, `${by.issuer} ${by.subject}`, randomUUID()),
    };
  }

  start(): Promise<{ host: string; port: number }> {
    return listenOn(this.server, this.address);
  }

  async stop(): Promise<void> {
    // No new connection from here; sessions end meanwhile, so their open GET streams do not wait out the grace period.
    const closing = closeGracefully(this.server, this.sockets);
    await this.sessions.close();
    await closing;
    await Promise.all([...this.contexts.values()].map((c) => c.connector.close()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://gateway');
      const origin = originOf(req);
      if (url.pathname === METADATA_PATH || url.pathname.startsWith(`${METADATA_PATH}/`)) {
        return this.metadata(res, origin, url.pathname.slice(METADATA_PATH.length));
      }
      const match = /^\/mcp\/([a-z][a-z0-9_-]*)\/?$/.exec(url.pathname);
      const context = match === null ? undefined : this.contexts.get(match[1] as string);
      if (context === undefined) return sendJson(res, 404, errorMessage(null, rpc('no MCP resource at this path')));
      // DNS rebinding: a browser page of another origin must not drive a caller's local session.
      const sentOrigin = req.headers.origin;
      if (sentOrigin !== undefined && hostOf(sentOrigin) !== req.headers.host)
        return sendJson(res, 403, errorMessage(null, rpc('requests from another origin are refused')));
      const name = context.resource.name;
      const identity = await this.authenticate(req, res, origin, name);
      if (identity === undefined) return;
      const version = req.headers['mcp-protocol-version'];
      if (typeof version === 'string' && !(SUPPORTED_VERSIONS as readonly string[]).includes(version))
        return sendJson(res, 400, errorMessage(null, rpc(`unsupported MCP-Protocol-Version ${version.slice(0, 32)}`)));
      const sessionId = req.headers[SESSION_HEADER];
      let mcp: McpSession | undefined;
      if (typeof sessionId === 'string') {
        mcp = this.sessions.find(sessionId, name, identity);
        if (mcp === undefined) return this.foreignSession(res, identity, context, req);
      }
      switch (req.method) {
        case 'POST':
          return await this.post(req, res, context, identity, mcp);
        case 'GET':
          return this.openStream(req, res, mcp);
        case 'DELETE':
          if (mcp === undefined) return sendJson(res, 400, errorMessage(null, sessionError('no Mcp-Session-Id')));
          await this.sessions.end(mcp, 'client-ended');
          res.writeHead(204).end();
          return;
        default:
          res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
      }
    } catch (error) {
      this.services.logger.error({ err: error }, 'MCP request failed');
      if (!res.headersSent) sendJson(res, 500, errorMessage(null, failureOf(error)));
      else res.end();
    }
  }

  private metadata(res: ServerResponse, origin: string, suffix: string): void {
    const match = /^\/mcp\/([a-z][a-z0-9_-]*)$/.exec(suffix);
    const name = match?.[1] ?? (this.contexts.size === 1 ? [...this.contexts.keys()][0] : undefined);
    if (name === undefined || !this.contexts.has(name)) {
      sendJson(res, 404, JSON.stringify({ error: 'not_found' }));
      return;
    }
    sendJson(res, 200, JSON.stringify(resourceMetadata(this.services.config, origin, name)));
  }

  private async authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    origin: string,
    resource: string,
  ): Promise<Identity | undefined> {
    const header = req.headers.authorization;
    const token = header === undefined ? undefined : /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1];
    try {
      if (token === undefined)
        throw new GatehouseError(header === undefined ? 'auth.missing_token' : 'auth.invalid_token');
      return await this.services.verifier.verify(token);
    } catch (error) {
      if (!isGatehouseError(error) || !error.code.startsWith('auth.')) throw error;
      countUnrecorded(this.services.metrics, 'mcp', resource, 'unauthenticated');
      this.services.logger.warn(
        { reason: error.details.reason ?? error.code, client: req.socket.remoteAddress },
        'token rejected',
      );
      res.setHeader('www-authenticate', authenticateHeader(origin, resource, header !== undefined));
      sendJson(res, 401, errorMessage(null, new RpcError(RPC_ERRORS.invalidRequest, error.message)));
      return undefined;
    }
  }

  /**
   * A session id that is unknown, ended, of another resource or of another caller: answered 404 (the caller must
   * initialize again), never saying which. Recorded as a refused operation in a session of the caller's own.
   */
  private async foreignSession(
    res: ServerResponse,
    identity: Identity,
    context: McpResourceContext,
    req: IncomingMessage,
  ) {
    const mcp = this.sessions.open(context.resource.name, identity, SUPPORTED_VERSIONS[0], req.socket.remoteAddress);
    try {
      const handle = await mcp.session.begin({
        ...context.classifier.control(`${req.method ?? 'POST'} with an unknown session id`),
        unclassifiable: 'the Mcp-Session-Id is unknown, ended, or not this caller’s',
      });
      await handle.finish({ outcome: 'refused', status: 404, error: 'mcp.unknown_session' });
    } finally {
      await this.sessions.end(mcp, 'refused');
    }
    sendJson(res, 404, errorMessage(null, sessionError('unknown session: send initialize again')));
  }

  private async post(
    req: IncomingMessage,
    res: ServerResponse,
    context: McpResourceContext,
    identity: Identity,
    mcp: McpSession | undefined,
  ): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type))
      return sendJson(res, 415, errorMessage(null, rpc('expected content-type: application/json')));
    const limit = context.resource.maxMessageBytes;
    const body = await readLimited(req, limit);
    let message: ReturnType<typeof parseMessage>;
    try {
      if (body === undefined)
        throw new RpcError(RPC_ERRORS.invalidRequest, `the message is larger than ${limit} bytes`);
      message = parseMessage(body);
    } catch (error) {
      const failure = error instanceof RpcError ? error : rpc('the message could not be read');
      if (mcp !== undefined) await this.recordRefusal(mcp, context, failure.message);
      else
        this.services.logger.info({ resource: context.resource.name, reason: failure.message }, 'MCP message refused');
      if (mcp === undefined) countUnrecorded(this.services.metrics, 'mcp', context.resource.name, 'error');
      return sendJson(res, body === undefined ? 413 : 400, errorMessage(null, failure));
    }
    const id = message.type === 'request' ? message.id : null;
    const accepts = String(req.headers.accept ?? '');
    let streaming: ProgressSink | undefined;
    // What the caller was last told: the gateway's notices count up from 1, the server's progress is added on top.
    let progress = 0;
    let notices = 0;
    const closed = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) closed.abort();
    });
    // Held calls with a progress token answer as an event stream: progress first, the response last.
    const stream = (token: string | number): ProgressSink => {
      const send = (params: Record<string, unknown>) => {
        // Late progress (the answer went out, or the caller left) is dropped: a write after the end would throw.
        if (res.writableEnded || res.destroyed) return;
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(sseEvent(notificationMessage('notifications/progress', { progressToken: token, ...params })));
      };
      streaming ??= {
        // No total while held: nobody knows when approvers decide.
        notify: (text: string) => {
          notices = ++progress;
          send({ progress, message: text });
        },
        relay: (server) => {
          const value = notices + server.progress;
          if (value <= progress) return;
          progress = value;
          send({
            progress,
            ...(server.total === undefined ? {} : { total: notices + server.total }),
            ...(server.message === undefined ? {} : { message: server.message }),
          });
        },
      };
      return streaming;
    };
    let outcome: Awaited<ReturnType<typeof handleMessage>>;
    try {
      outcome = await handleMessage(this.messages, message, {
        context,
        identity,
        clientAddress: req.socket.remoteAddress,
        closed: closed.signal,
        ...(mcp === undefined ? {} : { mcp }),
        ...(accepts.includes('text/event-stream') ? { stream } : {}),
      });
    } catch (error) {
      const failure = failureOf(error);
      if (!(error instanceof RpcError) && failure.code === RPC_ERRORS.internal)
        this.services.logger.error({ err: error }, 'MCP message failed');
      if (id === null) return void res.writeHead(res.headersSent ? 200 : 202).end();
      return reply(res, errorMessage(id, failure), failure.code === RPC_ERRORS.session ? 400 : 200);
    }
    if (outcome.type === 'accepted') return void res.writeHead(202).end();
    if (outcome.sessionId !== undefined) res.setHeader('mcp-session-id', outcome.sessionId);
    reply(res, outcome.body, 200);
  }

  private async recordRefusal(mcp: McpSession, context: McpResourceContext, why: string): Promise<void> {
    const handle = await mcp.session.begin({ ...context.classifier.control('invalid message'), unclassifiable: why });
    await handle.finish({ outcome: 'refused', error: 'request.invalid' });
  }

  /** GET: the stream the gateway sends the server's notifications on (list changes), until DELETE or stop. */
  private openStream(req: IncomingMessage, res: ServerResponse, mcp: McpSession | undefined): void {
    if (mcp === undefined) {
      sendJson(res, 400, errorMessage(null, sessionError('no Mcp-Session-Id')));
      return;
    }
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) return void res.writeHead(406).end();
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': gatehouse\n\n');
    mcp.streams.add(res);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    res.once('close', () => {
      clearInterval(keepalive);
      mcp.streams.delete(res);
    });
  }

  /**
   * A notification of the server's, on the open streams of the sessions it concerns: a list change goes to every
   * session of the resource (they list again, filtered), a resource update to the sessions subscribed to that URI.
   * Recorded in each session before it is sent, like every message.
   */
  private relayNotice(resource: string, method: string, params: unknown): void {
    const context = this.contexts.get(resource);
    if (context === undefined) return;
    let sessions: Iterable<McpSession>;
    let sent: Record<string, unknown> = {};
    let detail: string | undefined;
    if (method === 'notifications/resources/updated') {
      const uri = (params as { uri?: unknown } | undefined)?.uri;
      if (typeof uri !== 'string') return;
      sessions = context.subscriptions.subscribers(uri);
      sent = { uri };
      detail = uri;
    } else sessions = this.sessions.ofResource(resource);
    for (const mcp of sessions) {
      if (mcp.streams.size === 0) continue;
      void mcp.session
        .begin(context.classifier.control(`server ${method}`, detail))
        .then(async (handle) => {
          for (const stream of mcp.streams) stream.write(sseEvent(notificationMessage(method, sent)));
          await handle.finish({ outcome: 'ok' });
        })
        .catch((error: unknown) =>
          this.services.logger.warn({ err: error }, 'MCP notification not recorded, not sent'),
        );
    }
  }
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function rpc(message: string): RpcError {
  return new RpcError(RPC_ERRORS.invalidRequest, message);
}

function sessionError(message: string): RpcError {
  return new RpcError(RPC_ERRORS.session, message);
}

function sseEvent(data: string): string {
  return `event: message\ndata: ${data}\n\n`;
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The response to a POST: on the event stream when one was opened for progress, else as JSON. */
function reply(res: ServerResponse, body: string, status: number): void {
  if (res.headersSent) {
    res.end(sseEvent(body));
    return;
  }
  sendJson(res, status, body);
}

/** The body as text, or undefined when it is longer than `limit` bytes (the rest is not read). */
async function readLimited(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
