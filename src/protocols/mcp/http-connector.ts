import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  LATEST_PROTOCOL_VERSION,
  type ServerCapabilities,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { createParser } from 'eventsource-parser';
import type { McpResourceConfig } from '../../config/schema.js';
import { type McpConnector, progressOf, type ServerProgress } from './connector.js';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';

type HttpUpstream = Extract<McpResourceConfig['upstream'], { transport: 'http' }>;

/** One MCP session with the server: what `initialize` agreed. */
interface UpstreamSession {
  readonly id: string | undefined;
  readonly version: string;
  readonly capabilities: ServerCapabilities;
}

/** A message the server sent (a response, a notification, or a request of its own). */
interface ServerMessage {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly result?: unknown;
  readonly error?: { readonly code?: unknown; readonly message?: unknown };
}

const LIST_CHANGED = new Set([
  'notifications/tools/list_changed',
  'notifications/resources/list_changed',
  'notifications/prompts/list_changed',
]);

/** Seconds before the notification stream is opened again after it ended while the session lives. */
const STREAM_RETRY_MS = 1_000;
/** Longest wait for the server to acknowledge the end of the session when the gateway stops. */
const CLOSE_TIMEOUT_MS = 1_000;

/**
 * A Streamable HTTP MCP server, reached with node:http over kept-alive connections. Hand-written rather than the
 * SDK's client transport, which runs every call through fetch and web streams at several times the gateway's own
 * cost per call (bench/results/mcp.md); the JSON-RPC framing is small and the gateway already judges every result
 * itself (size, masking), so the SDK's schema validation bought nothing here. SSE is parsed by eventsource-parser.
 *
 * One session per resource, shared by every caller, as with the SDK connector: initialized on first use, and again
 * on the next request after the server forgot it (404) or a connection failed. Nothing is retried: the server may
 * have run the call.
 */
export class HttpMcpConnector implements McpConnector {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly headers: Readonly<Record<string, string>>;
  /**
   * Most bytes read of one message from the server. Above `maxResultBytes` (judged after masking), with room for
   * masking that shortens: the bound is for the gateway's memory, the result's size is judged in call-handler.ts.
   */
  private readonly readLimit: number;
  private connecting: Promise<UpstreamSession> | undefined;
  private stream: ClientRequest | undefined;
  private readonly listeners: ((method: string) => void)[] = [];
  /** Requests sent with a progress token (the request's own id): where the server's progress for each goes. */
  private readonly progress = new Map<number, (progress: ServerProgress) => void>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly resource: McpResourceConfig,
    upstream: HttpUpstream,
    private readonly log: (message: string, error?: unknown) => void = () => undefined,
  ) {
    this.url = new URL(upstream.url);
    const https = this.url.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.send = https ? httpsRequest : httpRequest;
    this.readLimit = resource.maxResultBytes * 2 + 64 * 1024;
    this.headers =
      upstream.credential === undefined
        ? {}
        : { [upstream.credential.header.toLowerCase()]: upstream.credential.value };
  }

  async capabilities(): Promise<ServerCapabilities> {
    return (await this.session()).capabilities;
  }

  async request(
    method: string,
    params: Readonly<Record<string, unknown>>,
    signal?: AbortSignal,
    onProgress?: (progress: ServerProgress) => void,
  ): Promise<unknown> {
    const attempt = this.session();
    const session = await attempt;
    const id = ++this.nextId;
    let sent = params;
    if (onProgress !== undefined) {
      // The gateway's own token, not the caller's: callers' tokens could collide on the one shared session.
      sent = { ...params, _meta: { progressToken: id } };
      this.progress.set(id, onProgress);
    }
    try {
      return await this.exchange(session, { jsonrpc: '2.0', id, method, params: sent }, signal);
    } catch (error) {
      if (error instanceof CallEnded) {
        // The server may still be working on it: tell it to stop (best effort, as the SDK client does).
        void this.notify(session, 'notifications/cancelled', { requestId: id, reason: error.message }).catch(
          () => undefined,
        );
      } else if (!(error instanceof SessionIntact)) {
        // The transport failed, not the call: the next request initializes afresh.
        this.forget(attempt);
      }
      throw error instanceof CallEnded ? error.failure : error;
    } finally {
      if (onProgress !== undefined) this.progress.delete(id);
    }
  }

  onListChanged(listener: (method: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const connecting = this.connecting;
    this.connecting = undefined;
    this.stream?.destroy();
    const session = await connecting?.catch(() => undefined);
    // Ends the server's side of the session (the specification's DELETE); the server may not support it.
    if (session?.id !== undefined) {
      await new Promise<void>((resolve) => {
        const req = this.send(this.url, {
          method: 'DELETE',
          agent: this.agent,
          headers: this.headersOf(session),
          timeout: CLOSE_TIMEOUT_MS,
        });
        req.once('response', (res) => res.resume().once('end', resolve));
        req.once('timeout', () => req.destroy());
        req.once('error', () => resolve());
        req.once('close', () => resolve());
        req.end();
      });
    }
    this.agent.destroy();
  }

  private session(): Promise<UpstreamSession> {
    if (this.closed) return Promise.reject(new RpcError(RPC_ERRORS.upstream, 'the gateway is stopping'));
    if (this.connecting === undefined) {
      const attempt = this.initialize();
      this.connecting = attempt;
      attempt.catch(() => this.forget(attempt));
    }
    return this.connecting;
  }

  private forget(attempt: Promise<UpstreamSession>): void {
    if (this.connecting !== attempt) return;
    this.connecting = undefined;
    this.stream?.destroy();
    this.stream = undefined;
  }

  private async initialize(): Promise<UpstreamSession> {
    const pending: UpstreamSession = { id: undefined, version: LATEST_PROTOCOL_VERSION, capabilities: {} };
    const { result, sessionId } = await this.post(pending, {
      jsonrpc: '2.0',
      id: ++this.nextId,
      method: 'initialize',
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'gatehouse', version: '1' },
      },
    });
    const agreed = result as { protocolVersion?: unknown; capabilities?: unknown };
    if (typeof agreed.protocolVersion !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(agreed.protocolVersion))
      throw new RpcError(RPC_ERRORS.upstream, 'the MCP server offered a protocol version the gateway does not speak');
    const session: UpstreamSession = {
      id: sessionId,
      version: agreed.protocolVersion,
      capabilities: isObject(agreed.capabilities) ? (agreed.capabilities as ServerCapabilities) : {},
    };
    await this.notify(session, 'notifications/initialized', {});
    this.openStream(session);
    return session;
  }

  /** One request, answered by its response's result; a server error becomes an RpcError marked `fromServer`. */
  private async exchange(
    session: UpstreamSession,
    message: { readonly id: number; readonly [key: string]: unknown },
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return (await this.post(session, message, signal)).result;
  }

  private async notify(session: UpstreamSession, method: string, params: Readonly<Record<string, unknown>>) {
    await this.post(session, { jsonrpc: '2.0', method, params });
  }

  /**
   * POSTs one message. For a request, resolves with its response's result (from a JSON body or from the event
   * stream the server answers on, whose other messages are handled on the way); for a notification or a response,
   * once the server accepted it (202).
   */
  private post(
    session: UpstreamSession,
    message: Readonly<Record<string, unknown>>,
    signal?: AbortSignal,
  ): Promise<{ result: unknown; sessionId: string | undefined }> {
    const body = JSON.stringify(message);
    const id = message['id'];
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined, result?: unknown, sessionId?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve({ result, sessionId });
        else reject(error);
      };
      const req = this.send(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          ...this.headersOf(session),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      });
      const end = (failure: CallEnded) => {
        settle(failure);
        req.destroy();
      };
      const timer = setTimeout(
        () => end(new CallEnded('timeout', new RpcError(RPC_ERRORS.upstream, 'the MCP server did not answer in time'))),
        this.resource.callTimeout,
      );
      const onAbort = () =>
        end(new CallEnded('the caller went away', new RpcError(RPC_ERRORS.upstream, 'the call was cancelled')));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted === true) return onAbort();
      req.once('error', () => settle(unreachable()));
      req.once('response', (res) => {
        const sessionId = headerOf(res, 'mcp-session-id');
        const status = res.statusCode ?? 0;
        if (id === undefined) {
          res.resume();
          return settle(status >= 200 && status < 300 ? undefined : unreachable(`answered ${status}`));
        }
        if (status !== 200) {
          res.resume();
          // 404 on a session the gateway holds: the server forgot it (restarted); the caller's error is the same.
          return settle(unreachable(`answered ${status}`));
        }
        const answer = (reply: ServerMessage) => {
          if (reply.error !== undefined) return settle(serverError(reply.error));
          if (!isObject(reply.result)) return settle(unreachable('sent a malformed response'));
          settle(undefined, reply.result, sessionId);
        };
        const type = headerOf(res, 'content-type') ?? '';
        if (type.startsWith('text/event-stream')) {
          this.readEvents(session, res, (reply) => {
            if (reply === undefined) return settle(tooLarge(this.resource.maxResultBytes));
            if (reply.id === id) answer(reply);
          });
          // Only when still unanswered: an Error's stack trace is not free, and this runs after every call.
          res.once('end', () => settled || settle(unreachable('ended its stream without answering')));
          res.once('error', () => settle(unreachable()));
          return;
        }
        readBody(res, this.readLimit).then(
          (text) => {
            if (text === undefined) return settle(tooLarge(this.resource.maxResultBytes));
            const reply = parseMessage(text);
            if (reply === undefined || reply.id !== id) return settle(unreachable('sent a malformed response'));
            answer(reply);
          },
          () => settle(unreachable()),
        );
      });
      req.end(body);
    });
  }

  /** The GET stream the server sends notifications on between requests; optional for servers (405). */
  private openStream(session: UpstreamSession): void {
    if (this.closed) return;
    const req = this.send(this.url, {
      method: 'GET',
      agent: this.agent,
      headers: { ...this.headersOf(session), accept: 'text/event-stream' },
    });
    this.stream = req;
    const again = () => {
      if (this.stream !== req || this.closed) return;
      this.stream = undefined;
      setTimeout(() => {
        if (this.stream === undefined && this.connecting !== undefined)
          void this.connecting.then(
            (current) => current === session && this.openStream(session),
            () => undefined,
          );
      }, STREAM_RETRY_MS).unref();
    };
    req.once('error', again);
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        if (this.stream === req) this.stream = undefined;
        return;
      }
      this.readEvents(session, res, () => undefined);
      res.once('end', again);
      res.once('error', again);
    });
    req.end();
  }

  /**
   * Reads the messages of an event stream: notifications and the server's own requests are handled here, responses
   * go to `onMessage`; an event longer than `readLimit` drops the stream and is reported as `undefined`.
   */
  private readEvents(
    session: UpstreamSession,
    res: IncomingMessage,
    onMessage: (reply: ServerMessage | undefined) => void,
  ): void {
    let pending = 0;
    const parser = createParser({
      onEvent: (event) => {
        pending = 0;
        if (event.event !== undefined && event.event !== 'message') return;
        const message = parseMessage(event.data);
        if (message === undefined) return;
        if (typeof message.method === 'string') this.fromServer(session, message);
        else onMessage(message);
      },
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk.length;
      if (pending > this.readLimit) {
        res.destroy();
        onMessage(undefined);
        return;
      }
      parser.feed(chunk);
    });
  }

  private fromServer(session: UpstreamSession, message: ServerMessage): void {
    const method = message.method as string;
    if (LIST_CHANGED.has(method)) for (const listener of this.listeners) listener(method);
    if (method === 'notifications/progress') {
      const params = (message as { params?: { progressToken?: unknown } }).params;
      const onProgress =
        typeof params?.progressToken === 'number' ? this.progress.get(params.progressToken) : undefined;
      const progress = progressOf(params);
      if (onProgress !== undefined && progress !== undefined) onProgress(progress);
    }
    // A request of the server's own (sampling, elicitation, roots): the gateway offers none of them.
    if (typeof message.id === 'string' || typeof message.id === 'number') {
      void this.post(session, {
        jsonrpc: '2.0',
        id: message.id,
        error: { code: RPC_ERRORS.methodNotFound, message: 'Method not found' },
      }).catch((error: unknown) => this.log('MCP server request not answered', error));
    }
  }

  private headersOf(session: UpstreamSession): Record<string, string> {
    const headers: Record<string, string> = { ...this.headers };
    if (session.id !== undefined) {
      headers['mcp-session-id'] = session.id;
      headers['mcp-protocol-version'] = session.version;
    }
    return headers;
  }
}

/** An error that says nothing against the session: the server answered (its own error), or answered too much. */
class SessionIntact extends RpcError {}

/** A call ended by the gateway (timeout, caller gone) rather than by the server or the connection. */
class CallEnded extends Error {
  constructor(
    reason: string,
    readonly failure: RpcError,
  ) {
    super(reason);
  }
}

function unreachable(why?: string): RpcError {
  return new RpcError(
    RPC_ERRORS.upstream,
    why === undefined ? 'the MCP server could not be reached' : `the MCP server ${why}`,
  );
}

/** The server's own error (unknown tool, bad arguments): its code and message, without data (may hold internals). */
function serverError(error: ServerMessage['error']): RpcError {
  const code = typeof error?.code === 'number' && Number.isInteger(error.code) ? error.code : RPC_ERRORS.internal;
  const message = typeof error?.message === 'string' ? error.message : 'the MCP server reported an error';
  return new SessionIntact(code, message);
}

function tooLarge(limit: number): RpcError {
  return new SessionIntact(RPC_ERRORS.tooLarge, `the result is larger than this resource allows (${limit})`);
}

function parseMessage(text: string): ServerMessage | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? (value as ServerMessage) : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The body as text, or undefined past `limit` bytes (the connection is dropped: the result would be refused anyway,
 * and the gateway does not hold more of it than it may send).
 */
function readBody(res: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        res.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
  });
}
