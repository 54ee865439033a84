import type { ApprovalService } from '../../approvals/approval-service.js';
import { MaskCounts } from '../../masking/counts.js';
import { maskingNote, resolveMasking } from '../../masking/profile.js';
import type { Redactor } from '../../masking/redactor.js';
import type { OperationHandle } from '../../session/session.js';
import type { CallMethod, ClassifiedCall } from './classify.js';
import type { ServerProgress } from './connector.js';
import { refusalOf } from './error-response.js';
import { awaitMcpApproval, type ProgressSink } from './held-call.js';
import { type JsonRpcId, type Params, RPC_ERRORS, RpcError } from './jsonrpc.js';
import { refreshTools } from './list-handler.js';
import type { McpResourceContext } from './resource-context.js';
import { maskArguments, maskResult } from './result-masking.js';
import type { McpSession } from './session-registry.js';

export interface CallServices {
  readonly approvals: ApprovalService;
  readonly publicUrl: string | undefined;
}

export interface CallRequest {
  readonly id: JsonRpcId;
  readonly method: CallMethod;
  readonly params: Params;
  readonly progress?: ProgressSink;
  readonly signal: AbortSignal;
}

/**
 * One tools/call, resources/read, prompts/get or completion/complete, in order: classify, decide and record (arguments masked in the
 * record), hold for review, refuse a tool whose definition changed, count the call budget, mask arguments if asked,
 * call the server, refuse an oversized result, mask the result, record it, answer. Returns the result to send;
 * throws an RpcError to answer instead, with the operation's record finished.
 */
export async function runCall(
  services: CallServices,
  context: McpResourceContext,
  mcp: McpSession,
  request: CallRequest,
): Promise<unknown> {
  const { resource } = context;
  const { session } = mcp;
  const identity = session.identity;
  const call = context.classifier.call(request.method, request.params);
  const masking = resolveMasking(resource.masking, identity.groups);
  const redactor = masking.mode === 'mask' ? masking.plan.redactor : undefined;
  // Policy sees the arguments as sent; the record keeps them masked like the result.
  const operation =
    redactor === undefined
      ? call.operation
      : { ...call.operation, text: redactor.mask(call.operation.text, new MaskCounts()) };
  // Arguments masked before the server sees them (`maskArguments`); the counts are recorded with the decision.
  let sent = call.arguments;
  let maskedRequest: Record<string, number> | undefined;
  if (
    resource.maskArguments &&
    redactor !== undefined &&
    call.completion === undefined &&
    call.method !== 'resources/read'
  ) {
    const masked = maskArguments(call.arguments, redactor);
    sent = masked.value;
    if (!masked.counts.empty) maskedRequest = masked.counts.toRecord();
  }
  const handle = await session.begin(operation, {
    ...maskingNote(masking),
    rpcId: request.id,
    ...(maskedRequest === undefined ? {} : { maskedRequest }),
  });
  // Counted by `finish` (one outcome path, src/session/outcome.ts): the code or the verdict says which outcome.
  const refuse = async (error: RpcError, code: string): Promise<never> => {
    await handle.finish({ outcome: 'refused', error: code });
    throw error;
  };
  const { decision } = handle;
  if (decision.verdict === 'deny') {
    await refuse(refusalOf(decision), decision.reason === 'unclassifiable' ? 'request.invalid' : 'policy.denied');
  }
  if (decision.verdict === 'review') {
    await awaitMcpApproval({
      approvals: services.approvals,
      publicUrl: services.publicUrl,
      identity,
      sessionId: session.id,
      handle,
      call,
      operation,
      signal: request.signal,
      ...(request.progress === undefined ? {} : { progress: request.progress }),
      ...(redactor === undefined ? {} : { maskExcerpt: (text: string) => redactor.mask(text, new MaskCounts()) }),
    });
  }
  if (call.method === 'tools/call') await confirmPinned(context, session.id, call.target, refuse);
  const budget = call.method === 'tools/call' ? await context.budgets.take(identity, call.target) : undefined;
  if (budget !== undefined) {
    await handle.finish({ outcome: 'refused', status: 429, error: 'quota.exceeded', quota: { ...budget } });
    throw new RpcError(RPC_ERRORS.quota, `the call budget ${budget.budget} (${budget.limit} calls) is used up`, {
      ...budget,
    });
  }
  return relay(context, handle, call, sent, redactor, request.signal, request.progress);
}

async function confirmPinned(
  context: McpResourceContext,
  sessionId: string,
  tool: string,
  refuse: (error: RpcError, code: string) => Promise<never>,
): Promise<void> {
  const { pins, resource } = context;
  let state = pins.stateOf(resource.name, tool);
  // Not listed yet in this gateway, or changed when last listed (an approver may have accepted it since): look again.
  if (state !== 'pinned') {
    try {
      await refreshTools(context, sessionId);
    } catch (error) {
      await refuse(upstreamError(error), 'upstream.unavailable');
    }
    state = pins.stateOf(resource.name, tool);
  }
  if (state === 'changed')
    await refuse(
      new RpcError(
        RPC_ERRORS.toolChanged,
        `the definition of tool "${tool}" changed since it was pinned; an approver must accept it (gatehouse mcp tools)`,
        { tool },
      ),
      'mcp.tool_changed',
    );
  if (state === undefined)
    await refuse(new RpcError(RPC_ERRORS.invalidParams, `unknown tool "${tool}"`, { tool }), 'mcp.unknown_tool');
}

async function relay(
  context: McpResourceContext,
  handle: OperationHandle,
  call: ClassifiedCall,
  /** The arguments as they go to the server (masked when the resource says so). */
  sent: Readonly<Record<string, unknown>>,
  redactor: Redactor | undefined,
  signal: AbortSignal,
  progress: ProgressSink | undefined,
): Promise<unknown> {
  const { resource, connector } = context;
  const { method, target } = call;
  const params = call.completion ?? (method === 'resources/read' ? { uri: target } : { name: target, arguments: sent });
  let result: unknown;
  // The server's progress reaches the caller masked like the result; how many went out is recorded with it.
  const progressMasked = progress === undefined ? undefined : new MaskCounts();
  let relayed = 0;
  const onProgress =
    progress === undefined
      ? undefined
      : (update: ServerProgress) => {
          const message = update.message;
          let shown: ServerProgress;
          try {
            shown =
              message === undefined || redactor === undefined
                ? update
                : { ...update, message: redactor.mask(message, progressMasked as MaskCounts) };
          } catch {
            return; // Not relayed rather than relayed unmasked; the result itself is judged on its own below.
          }
          relayed++;
          progress.relay(shown);
        };
  let servedBy: string | undefined;
  const sentAt = performance.now();
  try {
    result = await connector.request(method, params, {
      signal,
      ...(onProgress === undefined ? {} : { onProgress }),
      servedBy: (agent) => {
        servedBy = agent;
      },
    });
  } catch (error) {
    const failure = upstreamError(error);
    // Too large to read at all (http-connector.ts): refused like a result judged too large below.
    if (failure.code === RPC_ERRORS.tooLarge) {
      await handle.finish({ outcome: 'refused', error: 'mcp.result_too_large', bytesOut: 0 });
      throw failure;
    }
    const code = failure.code === RPC_ERRORS.upstream ? 'upstream.unavailable' : `mcp.server_error ${failure.code}`;
    await handle.finish({ outcome: 'error', error: code });
    throw failure;
  }
  const upstreamSeconds = (performance.now() - sentAt) / 1000;
  let shown = result;
  let masked: Record<string, number> | undefined;
  if (redactor !== undefined) {
    try {
      const outcome = maskResult(result, redactor);
      shown = outcome.value;
      if (progressMasked !== undefined) outcome.counts.merge(progressMasked);
      if (!outcome.counts.empty) masked = outcome.counts.toRecord();
    } catch {
      // Fail closed: the caller gets an error, never an unmasked result.
      await handle.finish({ outcome: 'error', error: 'masking-failed' }, { upstreamSeconds });
      throw new RpcError(RPC_ERRORS.internal, 'the result could not be masked, so it was withheld');
    }
  }
  // Judged as the caller would receive it (masked), serialised once.
  const text = JSON.stringify(shown);
  const bytes = Buffer.byteLength(text);
  if (bytes > resource.maxResultBytes) {
    await handle.finish({ outcome: 'refused', error: 'mcp.result_too_large', bytesOut: 0 }, { upstreamSeconds });
    throw new RpcError(
      RPC_ERRORS.tooLarge,
      `the result (${bytes} bytes) is larger than this resource allows (${resource.maxResultBytes})`,
    );
  }
  handle.capture({ type: 'http-body', chunk: text });
  const toolError = (shown as { isError?: unknown } | null)?.isError === true;
  await handle.finish(
    {
      outcome: toolError ? 'error' : 'ok',
      bytesOut: bytes,
      ...(toolError ? { error: 'mcp.tool_error' } : {}),
      ...(masked === undefined ? {} : { masked }),
      ...(relayed === 0 ? {} : { notifications: relayed }),
      ...(servedBy === undefined ? {} : { servedBy }),
    },
    { upstreamSeconds },
  );
  return shown;
}

function upstreamError(error: unknown): RpcError {
  return error instanceof RpcError ? error : new RpcError(RPC_ERRORS.upstream, 'the MCP server could not be reached');
}
