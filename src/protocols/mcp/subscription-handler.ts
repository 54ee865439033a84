import { refusalOf } from './error-response.js';
import { type Params, RPC_ERRORS, RpcError } from './jsonrpc.js';
import type { McpResourceContext } from './resource-context.js';
import type { McpSession } from './session-registry.js';

export const SUBSCRIPTION_METHODS = ['resources/subscribe', 'resources/unsubscribe'] as const;
export type SubscriptionMethod = (typeof SUBSCRIPTION_METHODS)[number];

/**
 * `resources/subscribe` is judged as reading the URI: allowed only where policy allows that read outright (a
 * subscription is not held for review: updates would reach the caller while nobody had decided). Unsubscribing is
 * session control. Both are recorded; the server sees one subscription per URI (subscriptions.ts).
 */
export async function runSubscription(
  context: McpResourceContext,
  mcp: McpSession,
  method: SubscriptionMethod,
  params: Params,
): Promise<Record<string, never>> {
  const uri = params.uri;
  const read = context.classifier.call('resources/read', { uri });
  const { session } = mcp;
  if (method === 'resources/unsubscribe') {
    const handle = await session.begin(context.classifier.control(method, typeof uri === 'string' ? uri : undefined));
    if (typeof uri === 'string') context.subscriptions.unsubscribe(mcp, uri);
    await handle.finish({ outcome: 'ok' });
    return {};
  }
  const handle = await session.begin({ ...read.operation, action: method, text: `${method} ${read.target}` });
  const { decision } = handle;
  if (decision.verdict !== 'allow') {
    await handle.finish({
      outcome: 'refused',
      error: decision.reason === 'unclassifiable' ? 'request.invalid' : 'policy.denied',
    });
    if (decision.verdict === 'deny') throw refusalOf(decision);
    throw new RpcError(
      RPC_ERRORS.denied,
      `subscribing to ${read.target} needs a rule that allows reading it without review`,
      {
        rule: decision.rule.id,
        reason: decision.reason,
      },
    );
  }
  try {
    await context.subscriptions.subscribe(mcp, read.target);
  } catch (error) {
    const failure =
      error instanceof RpcError ? error : new RpcError(RPC_ERRORS.upstream, 'the MCP server could not be reached');
    await handle.finish({
      outcome: 'error',
      error: failure.code === RPC_ERRORS.upstream ? 'upstream.unavailable' : `mcp.server_error ${failure.code}`,
    });
    throw failure;
  }
  await handle.finish({ outcome: 'ok' });
  return {};
}
