import type { McpResourceConfig } from '../../config/schema.js';
import type { Operation, OperationKind } from '../../core/operation.js';
import { wildcardMatcher } from '../../policy/pattern.js';
import { canonicalJson } from './canonical-json.js';
import type { Params } from './jsonrpc.js';

/** Methods that act on one named thing of the server: policy judges them by target (and arguments). */
export const CALL_METHODS = ['tools/call', 'resources/read', 'prompts/get', 'completion/complete'] as const;
export type CallMethod = (typeof CALL_METHODS)[number];

/** Methods answered from the server's lists, filtered per caller. */
export const LIST_METHODS = {
  'tools/list': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'prompts/list': 'prompts',
} as const;
export type ListMethod = keyof typeof LIST_METHODS;

/** A call as the gateway judges it: the operation and what goes upstream. */
export interface ClassifiedCall {
  readonly operation: Operation;
  readonly method: CallMethod;
  readonly target: string;
  /** The tool's or prompt's arguments (an object); empty for resources/read. */
  readonly arguments: Readonly<Record<string, unknown>>;
  /** completion/complete: the params as they go upstream, rebuilt from what was judged. */
  readonly completion?: Readonly<Record<string, unknown>>;
}

const TEXT_LIMIT = 4096;

/**
 * Classifies MCP calls into operations. A tool may do anything, so a tool call is a `write` unless the resource's
 * `toolKinds` says otherwise (the server's own annotations such as readOnlyHint are its claims, not facts). Reading a
 * resource and getting a prompt are reads. Everything else the caller sends (initialize, lists, ping,
 * notifications) is session control.
 */
export class McpClassifier {
  private readonly kinds: readonly { matches: (tool: string) => boolean; kind: OperationKind }[];

  constructor(private readonly resource: McpResourceConfig) {
    this.kinds = resource.toolKinds.map((entry) => ({ matches: wildcardMatcher(entry.tools), kind: entry.kind }));
  }

  /** The operation for a call, or an `unclassifiable` one naming what is wrong with its params. */
  call(method: CallMethod, params: Params): ClassifiedCall {
    if (method === 'completion/complete') return this.completion(params);
    const key = method === 'resources/read' ? 'uri' : 'name';
    const target = params[key];
    const args = method === 'resources/read' ? {} : (params.arguments ?? {});
    const base = { protocol: 'mcp' as const, resource: this.resource.name, tags: [], action: method };
    if (typeof target !== 'string' || target.length === 0 || target.length > 1024) {
      return this.unclassifiable(method, base, `${method} needs a string "${key}"`);
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      return this.unclassifiable(method, base, `${method} arguments must be an object`);
    }
    const argsJson = canonicalJson(args);
    const kind = method === 'tools/call' ? this.toolKind(target) : 'read';
    return {
      method,
      target,
      arguments: args as Record<string, unknown>,
      operation: {
        ...base,
        kind,
        target,
        attributes: args as Record<string, unknown>,
        text: clip(method === 'resources/read' ? `${method} ${target}` : `${method} ${target} ${argsJson}`),
      },
    };
  }

  /** The operation a call of this tool would be, without arguments: for filtering lists (policy's listing mode). */
  listed(method: CallMethod, target: string): Operation {
    const kind = method === 'tools/call' ? this.toolKind(target) : 'read';
    return {
      protocol: 'mcp',
      resource: this.resource.name,
      tags: [],
      action: method,
      kind,
      target,
      text: `${method} ${target}`,
    };
  }

  /** Session control: `initialize`, `tools/list`, `ping`, `notifications/initialized`... */
  control(method: string, detail?: string): Operation {
    return {
      protocol: 'mcp',
      resource: this.resource.name,
      tags: [],
      action: method,
      kind: 'session',
      text: detail === undefined ? method : clip(`${method} ${detail}`),
    };
  }

  /**
   * Completing an argument of a prompt (`ref/prompt`, by name) or of a resource template (`ref/resource`, by URI
   * template): a read of that prompt or template, judged with the arguments given so far (the context) and the
   * partial value, so a rule whose conditions the finished call would have to meet is met here too.
   */
  private completion(params: Params): ClassifiedCall {
    const method = 'completion/complete';
    const base = { protocol: 'mcp' as const, resource: this.resource.name, tags: [], action: method };
    const ref = params.ref as { type?: unknown; name?: unknown; uri?: unknown } | undefined;
    const argument = params.argument as { name?: unknown; value?: unknown } | undefined;
    const context = (params.context as { arguments?: unknown } | undefined)?.arguments ?? {};
    const key = ref?.type === 'ref/prompt' ? 'name' : ref?.type === 'ref/resource' ? 'uri' : undefined;
    const target = key === undefined ? undefined : ref?.[key];
    if (typeof target !== 'string' || target.length === 0 || target.length > 1024)
      return this.unclassifiable(method, base, 'completion/complete needs a ref/prompt name or a ref/resource uri');
    if (typeof argument?.name !== 'string' || typeof argument.value !== 'string')
      return this.unclassifiable(method, base, 'completion/complete needs an argument name and value (strings)');
    if (context === null || typeof context !== 'object' || Array.isArray(context))
      return this.unclassifiable(method, base, 'completion/complete context arguments must be an object');
    const args = { ...(context as Record<string, unknown>), [argument.name]: argument.value };
    return {
      method,
      target,
      arguments: args,
      completion: {
        ref: { type: ref?.type, [key as string]: target },
        argument: { name: argument.name, value: argument.value },
        ...(Object.keys(context).length === 0 ? {} : { context: { arguments: context } }),
      },
      operation: {
        ...base,
        kind: 'read',
        target,
        attributes: args,
        text: clip(`${method} ${target} ${canonicalJson(args)}`),
      },
    };
  }

  private toolKind(tool: string): OperationKind {
    return this.kinds.find((entry) => entry.matches(tool))?.kind ?? 'write';
  }

  private unclassifiable(
    method: CallMethod,
    base: Pick<Operation, 'protocol' | 'resource' | 'tags' | 'action'>,
    why: string,
  ): ClassifiedCall {
    return {
      method,
      target: '',
      arguments: {},
      operation: { ...base, kind: 'unknown', text: method, unclassifiable: why },
    };
  }
}

function clip(text: string): string {
  return text.length <= TEXT_LIMIT ? text : `${text.slice(0, TEXT_LIMIT)}…`;
}
