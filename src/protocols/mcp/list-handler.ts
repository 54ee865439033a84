import type { Identity } from '../../core/identity.js';
import type { PolicyEngine } from '../../policy/engine.js';
import type { CallMethod, ListMethod } from './classify.js';
import { LIST_METHODS } from './classify.js';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';
import type { McpResourceContext } from './resource-context.js';
import type { ListedTool } from './tool-pins.js';

/** Pages read from the server for one list before the gateway gives up on it (a server paging forever). */
const MAX_PAGES = 100;

/** What each list holds and the call policy judges its entries as. */
const ENTRIES: Readonly<Record<ListMethod, { readonly call: CallMethod; readonly key: string }>> = Object.assign(
  Object.create(null),
  {
    'tools/list': { call: 'tools/call', key: 'name' },
    'resources/list': { call: 'resources/read', key: 'uri' },
    'resources/templates/list': { call: 'resources/read', key: 'uriTemplate' },
    'prompts/list': { call: 'prompts/get', key: 'name' },
  },
);

/**
 * Answers a list from the server's whole list (every page read, then returned as one page, so what is filtered
 * cannot shift between pages), showing the caller only what policy could let it call: tools, resources and prompts
 * it may not reach are left out, and so are tools whose definition changed since it was pinned.
 */
export async function listFor(
  context: McpResourceContext,
  method: ListMethod,
  policy: PolicyEngine,
  identity: Identity,
  sessionId: string,
): Promise<{ result: Record<string, unknown>; shown: number; hidden: number }> {
  const field = LIST_METHODS[method];
  let entries = await readAll(context, method, field);
  if (method === 'tools/list')
    entries = await context.pins.check(context.resource.name, entries as ListedTool[], sessionId);
  const { call, key } = ENTRIES[method];
  const shown = entries.filter((entry) => {
    const target = entry[key];
    if (typeof target !== 'string') return false;
    const decision = policy.decide(context.classifier.listed(call, target), { identity, listing: true });
    return decision.verdict !== 'deny';
  });
  return { result: { [field]: shown }, shown: shown.length, hidden: entries.length - shown.length };
}

/** The tools as the server lists them now, checked against the pins (the call path's view when none was listed). */
export async function refreshTools(context: McpResourceContext, sessionId: string): Promise<void> {
  const tools = await readAll(context, 'tools/list', 'tools');
  await context.pins.check(context.resource.name, tools as ListedTool[], sessionId);
}

async function readAll(
  context: McpResourceContext,
  method: ListMethod,
  field: string,
): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = (await context.connector.request(method, cursor === undefined ? {} : { cursor })) as Record<
      string,
      unknown
    >;
    const entries = result[field];
    if (!Array.isArray(entries)) throw new RpcError(RPC_ERRORS.upstream, `the MCP server's ${method} has no ${field}`);
    for (const entry of entries) if (entry !== null && typeof entry === 'object') all.push(entry);
    const next = result.nextCursor;
    if (typeof next !== 'string' || next.length === 0) return all;
    cursor = next;
  }
  throw new RpcError(RPC_ERRORS.upstream, `the MCP server's ${method} has more than ${MAX_PAGES} pages`);
}
