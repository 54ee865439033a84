import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  ErrorCode,
  McpError,
  ProgressNotificationSchema,
  ResultSchema,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { McpResourceConfig } from '../../config/schema.js';
import { type McpConnector, type McpRequestOptions, ServerNotices } from './connector.js';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';

type StdioUpstream = Extract<McpResourceConfig['upstream'], { transport: 'stdio' }>;

/**
 * A stdio server, through the SDK's client: one per resource, shared by every caller (the server sees the gateway
 * as its one client; each caller's rights are enforced here, not by the server). The server is started on first use
 * and again on the next request after it exits; a request in flight when it dies fails with an upstream error.
 */
export class SdkMcpConnector implements McpConnector {
  private connecting: Promise<Client> | undefined;
  private readonly notices = new ServerNotices();
  private nextToken = 0;
  private closed = false;

  constructor(
    private readonly resource: McpResourceConfig,
    private readonly upstream: StdioUpstream,
    private readonly log: (message: string, error?: unknown) => void = () => undefined,
  ) {}

  async capabilities(): Promise<ServerCapabilities> {
    return (await this.client()).getServerCapabilities() ?? {};
  }

  async request(
    method: string,
    params: Readonly<Record<string, unknown>>,
    options: McpRequestOptions = {},
  ): Promise<unknown> {
    const { signal, onProgress } = options;
    const attempt = this.client();
    const client = await attempt;
    const token = ++this.nextToken;
    const sent = this.notices.track(token, params, onProgress);
    try {
      // ResultSchema is loose: the gateway relays what the server said and judges it itself (size, masking).
      return await client.request({ method, params: sent } as never, ResultSchema.passthrough(), {
        timeout: this.resource.callTimeout,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      // The transport failed, not the call (an HTTP server restarted and forgot the gateway's session, a connection
      // broke): the next request connects afresh. Nothing is retried: the server may have run the call.
      if (!(error instanceof McpError) && signal?.aborted !== true && this.connecting === attempt) {
        this.connecting = undefined;
        void client.close().catch(() => undefined);
      }
      throw upstreamFailure(error);
    } finally {
      this.notices.untrack(token);
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
    await (await connecting?.catch(() => undefined))?.close().catch(() => undefined);
  }

  private client(): Promise<Client> {
    if (this.closed) return Promise.reject(new RpcError(RPC_ERRORS.upstream, 'the gateway is stopping'));
    if (this.connecting === undefined) {
      const forget = () => {
        if (this.connecting === attempt) this.connecting = undefined;
      };
      // Forgotten when the connection fails or later closes (the server exited): the next request connects again.
      const attempt = this.connect(forget);
      this.connecting = attempt;
      attempt.catch(forget);
    }
    return this.connecting;
  }

  private async connect(onClosed: () => void): Promise<Client> {
    const client = new Client({ name: 'gatehouse', version: '1' }, { capabilities: {} });
    client.onclose = onClosed;
    client.onerror = (error) => this.log('MCP server transport error', error);
    // Progress routed by the gateway's own tokens, not the SDK's `onprogress`: the SDK drops its handler when the
    // response arrives, before a progress notification the server sent just ahead of it has been handled.
    client.setNotificationHandler(ProgressNotificationSchema, async (notification) =>
      this.notices.handle(notification.method, notification.params),
    );
    client.fallbackNotificationHandler = async (notification) =>
      this.notices.handle(notification.method, notification.params);
    try {
      await client.connect(this.transport(), { timeout: this.resource.callTimeout });
      this.notices.connected();
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw upstreamFailure(error);
    }
  }

  private transport(): StdioClientTransport {
    const upstream = this.upstream;
    return new StdioClientTransport({
      command: upstream.command,
      args: upstream.args,
      env: upstream.env,
      ...(upstream.cwd === undefined ? {} : { cwd: upstream.cwd }),
      // The child's stderr is its log, not the gateway's: dropped rather than mixed into ours.
      stderr: 'ignore',
    });
  }
}

/** The server's own JSON-RPC errors pass through (they answer the call); transport failures become upstream errors. */
function upstreamFailure(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout)
      return new RpcError(RPC_ERRORS.upstream, 'the MCP server did not answer in time');
    if (error.code === ErrorCode.ConnectionClosed)
      return new RpcError(RPC_ERRORS.upstream, 'the MCP server closed the connection before answering');
    // The server's own error (unknown tool, bad arguments): its code and message, without data (may hold internals).
    return new RpcError(error.code, error.message.replace(/^MCP error -?\d+: /, ''));
  }
  return new RpcError(RPC_ERRORS.upstream, 'the MCP server could not be reached');
}
