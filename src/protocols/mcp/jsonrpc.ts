/**
 * JSON-RPC 2.0 as MCP uses it, read by hand rather than through the SDK's server classes: the gateway must see every
 * message whole (method, id, params) to decide, record and rewrite it, and must refuse what the SDK would accept
 * (batches, oversized bodies, unknown methods) with its own errors.
 */

export type JsonRpcId = string | number;

export type InboundMessage =
  | { readonly type: 'request'; readonly id: JsonRpcId; readonly method: string; readonly params: Params }
  | { readonly type: 'notification'; readonly method: string; readonly params: Params }
  | { readonly type: 'response'; readonly id: JsonRpcId };

export type Params = Readonly<Record<string, unknown>>;

/** Standard JSON-RPC codes and the gateway's own (-32000..-32099 is the implementation-defined range). */
export const RPC_ERRORS = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** The MCP server could not be reached, died or did not answer in time. */
  upstream: -32001,
  /** Policy denies the call; `data.rule` names the rule. */
  denied: -32003,
  /** The call waits for (or was refused by) a human review; `data.reviewId` names it. */
  review: -32004,
  /** A call budget has no room (the JSON-RPC form of HTTP 429); `data.resetAt` says when it refills. */
  quota: -32005,
  /** The tool's definition changed since it was pinned; an approver must accept the new one. */
  toolChanged: -32006,
  /** The result is larger than the resource's `maxResultBytes`. */
  tooLarge: -32007,
  /** The session is unknown, ended, or another caller's. */
  session: -32008,
  /** The gateway could not record the message, so nothing was run. */
  audit: -32009,
} as const;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** Parses one POST body into one message; anything else is an RpcError naming what is wrong. */
export function parseMessage(body: string): InboundMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new RpcError(RPC_ERRORS.parseError, 'the body is not valid JSON');
  }
  // Batches were removed from MCP in 2025-06-18; both revisions served here refuse them.
  if (Array.isArray(value)) throw new RpcError(RPC_ERRORS.invalidRequest, 'JSON-RPC batch arrays are not supported');
  if (value === null || typeof value !== 'object') throw new RpcError(RPC_ERRORS.invalidRequest, 'expected an object');
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== '2.0') throw new RpcError(RPC_ERRORS.invalidRequest, 'jsonrpc must be "2.0"');
  const id = message.id;
  const hasId = Object.hasOwn(message, 'id');
  if (hasId && !isId(id)) throw new RpcError(RPC_ERRORS.invalidRequest, 'id must be a string or an integer');
  if (Object.hasOwn(message, 'method')) {
    const method = message.method;
    if (typeof method !== 'string' || method.length === 0 || method.length > 128)
      throw new RpcError(RPC_ERRORS.invalidRequest, 'method must be a non-empty string');
    const params = message.params ?? {};
    if (params === null || typeof params !== 'object' || Array.isArray(params))
      throw new RpcError(RPC_ERRORS.invalidParams, 'params must be an object', hasId ? { id } : undefined);
    return hasId
      ? { type: 'request', id: id as JsonRpcId, method, params: params as Params }
      : { type: 'notification', method, params: params as Params };
  }
  if (hasId && (Object.hasOwn(message, 'result') || Object.hasOwn(message, 'error')))
    return { type: 'response', id: id as JsonRpcId };
  throw new RpcError(RPC_ERRORS.invalidRequest, 'expected a request, a notification or a response');
}

function isId(value: unknown): value is JsonRpcId {
  return (
    (typeof value === 'string' && value.length <= 256) || (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

export function resultMessage(id: JsonRpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

export function errorMessage(id: JsonRpcId | null, error: RpcError): string {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.data !== undefined) body.data = error.data;
  return JSON.stringify({ jsonrpc: '2.0', id, error: body });
}

export function notificationMessage(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params });
}
