import type { Identity } from '../../core/identity.js';
import type { Operation } from '../../core/operation.js';
import type { PolicyEngine } from '../../policy/engine.js';
import { type CallServices, runCall } from './call-handler.js';
import { CALL_METHODS, type CallMethod, LIST_METHODS, type ListMethod } from './classify.js';
import { refusalOf } from './error-response.js';
import type { ProgressSink } from './held-call.js';
import { errorMessage, type InboundMessage, RPC_ERRORS, RpcError, resultMessage } from './jsonrpc.js';
import { listFor } from './list-handler.js';
import type { McpResourceContext } from './resource-context.js';
import { type McpSession, McpSessionRegistry } from './session-registry.js';
import { runSubscription, SUBSCRIPTION_METHODS, type SubscriptionMethod } from './subscription-handler.js';

/** MCP revisions served: the current one and the previous one. The first is offered when a caller asks for another. */
export const SUPPORTED_VERSIONS = ['2025-11-25', '2025-06-18'] as const;

/** Notifications a caller may send; anything else is recorded as not understood. */
const KNOWN_NOTIFICATIONS = new Set([
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
]);

export interface MessageServices extends CallServices {
  readonly policy: PolicyEngine;
  readonly sessions: McpSessionRegistry;
}

export interface MessageContext {
  readonly context: McpResourceContext;
  readonly identity: Identity;
  readonly clientAddress: string | undefined;
  /** The caller's session; absent only for `initialize`. */
  readonly mcp?: McpSession;
  /** Aborted when the caller's connection closes before its answer: a held call's review is then withdrawn. */
  readonly closed?: AbortSignal;
  /** Switches the answer to an event stream for progress notifications (when the caller accepts one). */
  readonly stream?: (progressToken: string | number) => ProgressSink;
}

/** What to answer: a JSON-RPC response (and the new session's id after initialize), or 202 for what needs none. */
export type MessageOutcome =
  | { readonly type: 'response'; readonly body: string; readonly sessionId?: string }
  | { readonly type: 'accepted' };

const isCall = (method: string): method is CallMethod => (CALL_METHODS as readonly string[]).includes(method);
const isList = (method: string): method is ListMethod => Object.hasOwn(LIST_METHODS, method);
const isSubscription = (method: string): method is SubscriptionMethod =>
  (SUBSCRIPTION_METHODS as readonly string[]).includes(method);

/** Every message a caller sends is recorded as an operation of its session, with its decision and outcome. */
export async function handleMessage(
  services: MessageServices,
  message: InboundMessage,
  ctx: MessageContext,
): Promise<MessageOutcome> {
  const { context } = ctx;
  if (message.type === 'request' && message.method === 'initialize') return initialize(services, message, ctx);
  const mcp = ctx.mcp;
  if (mcp === undefined) throw new RpcError(RPC_ERRORS.session, 'send initialize first (no Mcp-Session-Id header)');
  if (message.type !== 'request') {
    const method = message.type === 'response' ? 'response' : message.method;
    const known = message.type === 'response' || KNOWN_NOTIFICATIONS.has(method);
    await recordControl(mcp, known ? context.classifier.control(method) : unknownMethod(ctx, method));
    if (method === 'notifications/cancelled' && message.type === 'notification') {
      const id = message.params.requestId;
      if (typeof id === 'string' || typeof id === 'number') mcp.inflight.get(id)?.abort();
    }
    return { type: 'accepted' };
  }
  const { id, method, params } = message;
  if (isCall(method)) {
    // An id names one request until it is answered: a second with the same id could not be cancelled apart.
    if (mcp.inflight.has(id)) throw new RpcError(RPC_ERRORS.invalidRequest, 'a request with this id is still running');
    const abort = new AbortController();
    const onClosed = () => abort.abort();
    ctx.closed?.addEventListener('abort', onClosed, { once: true });
    mcp.inflight.set(id, abort);
    try {
      const meta = params._meta as { progressToken?: unknown } | undefined;
      const token = meta?.progressToken;
      const progress =
        ctx.stream !== undefined && (typeof token === 'string' || typeof token === 'number')
          ? ctx.stream(token)
          : undefined;
      const result = await runCall(services, context, mcp, {
        id,
        method,
        params,
        signal: abort.signal,
        ...(progress === undefined ? {} : { progress }),
      });
      return { type: 'response', body: resultMessage(id, result) };
    } finally {
      ctx.closed?.removeEventListener('abort', onClosed);
      mcp.inflight.delete(id);
    }
  }
  if (isList(method) || method === 'ping') {
    const handle = await mcp.session.begin(context.classifier.control(method));
    if (handle.decision.verdict !== 'allow') {
      await handle.finish({ outcome: 'refused', error: 'policy.denied' });
      throw refusalOf(handle.decision);
    }
    if (method === 'ping') {
      await handle.finish({ outcome: 'ok' });
      return { type: 'response', body: resultMessage(id, {}) };
    }
    try {
      const listed = await listFor(context, method, services.policy, mcp.session.identity, mcp.session.id);
      // rows: entries shown to this caller (the rest were filtered out).
      await handle.finish({ outcome: 'ok', rows: listed.shown });
      return { type: 'response', body: resultMessage(id, listed.result) };
    } catch (error) {
      await handle.finish({ outcome: 'error', error: 'upstream.unavailable' }).catch(() => undefined);
      throw error;
    }
  }
  if (isSubscription(method))
    return { type: 'response', body: resultMessage(id, await runSubscription(context, mcp, method, params)) };
  await recordControl(mcp, unknownMethod(ctx, method));
  throw new RpcError(RPC_ERRORS.methodNotFound, `method "${method.slice(0, 64)}" is not supported by the gateway`);
}

async function initialize(
  services: MessageServices,
  message: Extract<InboundMessage, { type: 'request' }>,
  ctx: MessageContext,
): Promise<MessageOutcome> {
  if (ctx.mcp !== undefined) throw new RpcError(RPC_ERRORS.invalidRequest, 'this session is already initialized');
  const requested = message.params.protocolVersion;
  if (typeof requested !== 'string') throw new RpcError(RPC_ERRORS.invalidParams, 'initialize needs a protocolVersion');
  const version = (SUPPORTED_VERSIONS as readonly string[]).includes(requested) ? requested : SUPPORTED_VERSIONS[0];
  const { context } = ctx;
  if (services.sessions.countOf(ctx.identity) >= McpSessionRegistry.MAX_PER_IDENTITY)
    throw new RpcError(RPC_ERRORS.session, 'too many open sessions for this caller: end some (DELETE) first');
  const mcp = services.sessions.open(context.resource.name, ctx.identity, version, ctx.clientAddress);
  const client = message.params.clientInfo as { name?: unknown; version?: unknown } | undefined;
  const detail = `${String(client?.name ?? 'unknown client').slice(0, 64)} ${String(client?.version ?? '').slice(0, 32)} (${version})`;
  const handle = await mcp.session.begin(context.classifier.control('initialize', detail));
  if (handle.decision.verdict !== 'allow') {
    await handle.finish({ outcome: 'refused', error: 'policy.denied' });
    await services.sessions.end(mcp, 'refused');
    throw refusalOf(handle.decision);
  }
  let upstream: Awaited<ReturnType<McpResourceContext['connector']['capabilities']>>;
  try {
    upstream = await context.connector.capabilities();
  } catch (error) {
    await handle.finish({ outcome: 'error', error: 'upstream.unavailable' });
    await services.sessions.end(mcp, 'upstream-unavailable');
    throw error;
  }
  // What the server offers, as far as the gateway relays it. The server's `instructions` are not passed on: text
  // for the caller's model that nothing pins or reviews.
  const capabilities: Record<string, unknown> = {};
  if (upstream.tools !== undefined) capabilities.tools = { listChanged: true };
  if (upstream.resources !== undefined)
    capabilities.resources = {
      listChanged: true,
      ...(upstream.resources.subscribe === true ? { subscribe: true } : {}),
    };
  if (upstream.prompts !== undefined) capabilities.prompts = { listChanged: true };
  if (upstream.completions !== undefined) capabilities.completions = {};
  await handle.finish({ outcome: 'ok' });
  return {
    type: 'response',
    sessionId: mcp.id,
    body: resultMessage(message.id, {
      protocolVersion: version,
      capabilities,
      serverInfo: { name: 'gatehouse', version: '1' },
    }),
  };
}

async function recordControl(mcp: McpSession, operation: Operation): Promise<void> {
  const handle = await mcp.session.begin(operation);
  await handle.finish({ outcome: handle.decision.verdict === 'allow' ? 'ok' : 'refused' });
}

function unknownMethod(ctx: MessageContext, method: string): Operation {
  return {
    ...ctx.context.classifier.control(method.slice(0, 128)),
    unclassifiable: `unknown method "${method.slice(0, 64)}"`,
  };
}

/** An error answer for a request, or nothing for a notification (which gets no answer). */
export function errorOutcome(id: string | number | null, error: RpcError): MessageOutcome {
  return { type: 'response', body: errorMessage(id, error) };
}
