import type { ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';

/** How the gateway reaches one MCP server: a request in, the server's raw result out. */
export interface McpConnector {
  /** Connects if not connected (again after the server died) and returns what the server offers. */
  capabilities(): Promise<ServerCapabilities>;
  request(method: string, params: Readonly<Record<string, unknown>>, options?: McpRequestOptions): Promise<unknown>;
  /** Notifications the server sends outside any answer: a list changed, a subscribed resource was updated. */
  onNotification(listener: (method: string, params: unknown) => void): void;
  /** Called after each (re)connection: what the gateway set up on the server's side before (subscriptions) is gone. */
  onConnected(listener: () => void): void;
  close(): Promise<void>;
}

/** How a call is made: cancelled by `signal`, its progress (if any) to `onProgress`, its carrier to `servedBy`. */
export interface McpRequestOptions {
  readonly signal?: AbortSignal;
  /** The server's progress notifications for this request (it is sent with a progress token then). */
  readonly onProgress?: (progress: ServerProgress) => void;
  /** Told which agent carried the request (resources with `via: agent`), for the record. */
  readonly servedBy?: (agent: string) => void;
}

/** One progress notification of the server about a request (its `progressToken` already matched). */
export interface ServerProgress {
  readonly progress: number;
  readonly total?: number;
  readonly message?: string;
}

/** Reads a `notifications/progress` params object; undefined when it is not one. */
function progressOf(params: unknown): ServerProgress | undefined {
  const p = params as { progress?: unknown; total?: unknown; message?: unknown } | null | undefined;
  if (typeof p?.progress !== 'number' || !Number.isFinite(p.progress)) return undefined;
  return {
    progress: p.progress,
    ...(typeof p.total === 'number' && Number.isFinite(p.total) ? { total: p.total } : {}),
    ...(typeof p.message === 'string' ? { message: p.message } : {}),
  };
}

/** Server notifications relayed to callers: a list changed (they list again), a subscribed resource was updated. */
const RELAYED: ReadonlySet<string> = new Set([
  'notifications/tools/list_changed',
  'notifications/resources/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/updated',
]);

/**
 * The server's notifications, as both connectors handle them: relayed ones go to the listeners, progress to the
 * request it is about. Requests are tracked under tokens of the gateway's own, never a caller's: callers' tokens could
 * collide on the one session the gateway holds with the server.
 */
export class ServerNotices {
  private readonly listeners: ((method: string, params: unknown) => void)[] = [];
  private readonly connectedListeners: (() => void)[] = [];
  private readonly progress = new Map<number, (progress: ServerProgress) => void>();

  onNotification(listener: (method: string, params: unknown) => void): void {
    this.listeners.push(listener);
  }

  onConnected(listener: () => void): void {
    this.connectedListeners.push(listener);
  }

  /** The connector has a (new) session with the server. */
  connected(): void {
    for (const listener of this.connectedListeners) listener();
  }

  /** The params to send: with `token` as progress token when the caller wants progress (then `untrack` it). */
  track(
    token: number,
    params: Readonly<Record<string, unknown>>,
    onProgress: ((progress: ServerProgress) => void) | undefined,
  ): Readonly<Record<string, unknown>> {
    if (onProgress === undefined) return params;
    this.progress.set(token, onProgress);
    return { ...params, _meta: { progressToken: token } };
  }

  untrack(token: number): void {
    this.progress.delete(token);
  }

  /** One notification of the server's; those it is not about are ignored. */
  handle(method: string, params: unknown): void {
    if (RELAYED.has(method)) for (const listener of this.listeners) listener(method, params);
    else if (method === 'notifications/progress') {
      const token = (params as { progressToken?: unknown } | undefined)?.progressToken;
      const onProgress = typeof token === 'number' ? this.progress.get(token) : undefined;
      const progress = progressOf(params);
      if (onProgress !== undefined && progress !== undefined) onProgress(progress);
    }
  }
}
