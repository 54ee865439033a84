import type { Readable } from 'node:stream';
import {
  LATEST_PROTOCOL_VERSION,
  type ServerCapabilities,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import type { McpResourceConfig } from '../../config/schema.js';
import type { HttpConnector, UpstreamResponse } from '../http/connector.js';
import { type McpConnector, type McpRequestOptions, ServerNotices } from './connector.js';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';
import {
  CallEnded,
  headerOf,
  isObject,
  parseMessage,
  readBody,
  readEventStream,
  type ServerMessage,
  SessionIntact,
  serverError,
  tooLarge,
  unreachable,
} from './upstream-messages.js';

type HttpUpstream = Extract<McpResourceConfig['upstream'], { transport: 'http' }>;

/** One MCP session with the server: what `initialize` agreed. */
interface UpstreamSession {
  readonly id: string | undefined;
  readonly version: string;
  readonly capabilities: ServerCapabilities;
}

/** Milliseconds before the notification stream is opened again after it ended while the session lives. */
const STREAM_RETRY_MS = 1_000;
/** Longest wait for the server to acknowledge the end of the session when the gateway stops. */
const CLOSE_TIMEOUT_MS = 1_000;

/**
 * A Streamable HTTP MCP server. Hand-written rather than the SDK's client transport, which runs every call through
 * fetch and web streams at several times the gateway's own cost per call (bench/results/mcp.md); the JSON-RPC
 * framing is small and the gateway judges every result itself (size, masking), so the SDK's schema validation
 * bought nothing here. SSE is parsed by eventsource-parser. The requests travel over `transport`: the HTTP data
 * path's undici pool (direct-connector.ts), or an agent's tunnel for `via: agent`.
 *
 * One session per resource, shared by every caller, as with the SDK connector: initialized on first use, and again
 * on the next request after the server forgot it (404) or a connection failed. Nothing is retried: the server may
 * have run the call.
 */
export class HttpMcpConnector implements McpConnector {
  /** Path (and query) of the MCP endpoint, below the transport's origin. */
  private readonly path: string;
  private readonly headers: Readonly<Record<string, string>>;
  /**
   * Most bytes read of one message from the server. Above `maxResultBytes` (judged after masking), with room for
   * masking that shortens: the bound is for the gateway's memory, the result's size is judged in call-handler.ts.
   */
  private readonly readLimit: number;
  private connecting: Promise<UpstreamSession> | undefined;
  /** Ends the GET stream of the current session. */
  private stream: AbortController | undefined;
  private readonly notices = new ServerNotices();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly resource: McpResourceConfig,
    upstream: HttpUpstream,
    private readonly transport: HttpConnector,
    private readonly log: (message: string, error?: unknown) => void = () => undefined,
  ) {
    const url = new URL(upstream.url);
    this.path = url.pathname + url.search;
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
    options: McpRequestOptions = {},
  ): Promise<unknown> {
    const attempt = this.session();
    const session = await attempt;
    const id = ++this.nextId;
    const sent = this.notices.track(id, params, options.onProgress);
    try {
      const reply = await this.post(session, { jsonrpc: '2.0', id, method, params: sent }, options.signal);
      if (reply.servedBy !== undefined) options.servedBy?.(reply.servedBy);
      return reply.result;
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
      this.notices.untrack(id);
    }
  }

  onNotification(listener: (method: string, params: unknown) => void): void {
    this.notices.onNotification(listener);
  }

  onConnected(listener: () => void): void {
    this.notices.onConnected(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const connecting = this.connecting;
    this.connecting = undefined;
    this.stream?.abort();
    const session = await connecting?.catch(() => undefined);
    // Ends the server's side of the session (the specification's DELETE); the server may not support it.
    if (session?.id !== undefined) {
      await this.transport
        .request({
          method: 'DELETE',
          path: this.path,
          headers: this.headersOf(session),
          body: null,
          signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS),
        })
        .then(
          (response) => response.body.resume(),
          () => undefined,
        );
    }
    await this.transport.close();
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
    this.stream?.abort();
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
    // Told before this attempt resolves: a request made by a listener waits for it like any other.
    this.notices.connected();
    return session;
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
  ): Promise<{ result: unknown; sessionId: string | undefined; servedBy: string | undefined }> {
    const body = Buffer.from(JSON.stringify(message));
    const id = message['id'];
    const ended = new AbortController();
    return new Promise((resolve, reject) => {
      let settled = false;
      let response: UpstreamResponse | undefined;
      const settle = (error: Error | undefined, result?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) {
          const sessionId = response === undefined ? undefined : headerOf(response.headers, 'mcp-session-id');
          resolve({ result, sessionId, servedBy: response?.servedBy });
        } else reject(error);
      };
      const end = (failure: CallEnded) => {
        settle(failure);
        ended.abort();
      };
      const timer = setTimeout(
        () => end(new CallEnded('timeout', new RpcError(RPC_ERRORS.upstream, 'the MCP server did not answer in time'))),
        this.resource.callTimeout,
      );
      const onAbort = () =>
        end(new CallEnded('the caller went away', new RpcError(RPC_ERRORS.upstream, 'the call was cancelled')));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted === true) return onAbort();
      const answer = (reply: ServerMessage) => {
        if (reply.error !== undefined) return settle(serverError(reply.error));
        if (!isObject(reply.result)) return settle(unreachable('sent a malformed response'));
        settle(undefined, reply.result);
      };
      const onResponse = (res: UpstreamResponse) => {
        response = res;
        const status = res.statusCode;
        if (settled || id === undefined || status !== 200) {
          res.body.resume();
          if (id === undefined)
            return settle(status >= 200 && status < 300 ? undefined : unreachable(`answered ${status}`));
          // 404 on a session the gateway holds: the server forgot it (restarted); the caller's error is the same.
          return settle(unreachable(`answered ${status}`));
        }
        const type = headerOf(res.headers, 'content-type') ?? '';
        if (type.startsWith('text/event-stream')) {
          this.readEvents(session, res.body, (reply) => {
            if (reply === undefined) return settle(tooLarge(this.resource.maxResultBytes));
            if (reply.id === id) answer(reply);
          });
          // Only when still unanswered: an Error's stack trace is not free, and this runs after every call.
          res.body.once('end', () => settled || settle(unreachable('ended its stream without answering')));
          res.body.once('error', () => settled || settle(unreachable()));
          return;
        }
        readBody(res.body, this.readLimit).then(
          (text) => {
            if (text === undefined) return settle(tooLarge(this.resource.maxResultBytes));
            const reply = parseMessage(text);
            if (reply === undefined || reply.id !== id) return settle(unreachable('sent a malformed response'));
            answer(reply);
          },
          () => settle(unreachable()),
        );
      };
      this.transport
        .request({
          method: 'POST',
          path: this.path,
          headers: {
            ...this.headersOf(session),
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': String(body.length),
          },
          body,
          signal: ended.signal,
        })
        .then(onResponse, () => settle(unreachable()));
    });
  }

  /** The GET stream the server sends notifications on between requests; optional for servers (405). */
  private openStream(session: UpstreamSession): void {
    if (this.closed) return;
    const ended = new AbortController();
    this.stream = ended;
    const again = () => {
      if (this.stream !== ended || this.closed) return;
      this.stream = undefined;
      setTimeout(() => {
        if (this.stream === undefined && this.connecting !== undefined)
          void this.connecting.then(
            (current) => current === session && this.openStream(session),
            () => undefined,
          );
      }, STREAM_RETRY_MS).unref();
    };
    this.transport
      .request({
        method: 'GET',
        path: this.path,
        headers: { ...this.headersOf(session), accept: 'text/event-stream' },
        body: null,
        signal: ended.signal,
      })
      .then((res) => {
        if (res.statusCode !== 200) {
          res.body.resume();
          if (this.stream === ended) this.stream = undefined;
          return;
        }
        this.readEvents(session, res.body, () => undefined);
        res.body.once('end', again);
        res.body.once('error', again);
      }, again);
  }

  /** Reads an event stream: the server's own messages are handled here, responses go to `onMessage`. */
  private readEvents(
    session: UpstreamSession,
    body: Readable,
    onMessage: (reply: ServerMessage | undefined) => void,
  ): void {
    readEventStream(body, this.readLimit, (message) => {
      if (message !== undefined && typeof message.method === 'string') this.fromServer(session, message);
      else onMessage(message);
    });
  }

  private fromServer(session: UpstreamSession, message: ServerMessage): void {
    this.notices.handle(message.method as string, message.params);
    // A request of the server's own: ping is answered (the specification asks every side to); sampling, elicitation
    // and roots are refused, as the gateway offers none of them.
    if (typeof message.id === 'string' || typeof message.id === 'number') {
      const answer =
        message.method === 'ping'
          ? { result: {} }
          : { error: { code: RPC_ERRORS.methodNotFound, message: 'Method not found' } };
      void this.post(session, { jsonrpc: '2.0', id: message.id, ...answer }).catch((error: unknown) =>
        this.log('MCP server request not answered', error),
      );
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
