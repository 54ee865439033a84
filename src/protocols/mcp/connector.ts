import type { ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';

/** How the gateway reaches one MCP server: a request in, the server's raw result out. */
export interface McpConnector {
  /** Connects if not connected (again after the server died) and returns what the server offers. */
  capabilities(): Promise<ServerCapabilities>;
  request(method: string, params: Readonly<Record<string, unknown>>, options?: McpRequestOptions): Promise<unknown>;
  /** Called when the server says a list changed (tools, resources, prompts). */
  onListChanged(listener: (method: string) => void): void;
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
export function progressOf(params: unknown): ServerProgress | undefined {
  const p = params as { progress?: unknown; total?: unknown; message?: unknown } | null | undefined;
  if (typeof p?.progress !== 'number' || !Number.isFinite(p.progress)) return undefined;
  return {
    progress: p.progress,
    ...(typeof p.total === 'number' && Number.isFinite(p.total) ? { total: p.total } : {}),
    ...(typeof p.message === 'string' ? { message: p.message } : {}),
  };
}

/** Server notifications that a list changed: callers are told to list again. */
export const LIST_CHANGED: ReadonlySet<string> = new Set([
  'notifications/tools/list_changed',
  'notifications/resources/list_changed',
  'notifications/prompts/list_changed',
]);
