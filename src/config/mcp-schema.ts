// The `protocol: mcp` resource: an MCP server (Streamable HTTP or a stdio child process) behind the gateway.
import { z } from 'zod';
import { OPERATION_KINDS } from '../core/operation.js';
import { resourceMaskingSchema } from '../masking/config.js';
import { policyRuleSchema as policyRule } from './policy-rule-schema.js';
import { duration, httpUrl, routeFields } from './schema-parts.js';

const httpUpstream = z.strictObject({
  transport: z.literal('http').describe('`http`: a Streamable HTTP MCP server.'),
  url: httpUrl.describe(
    "The MCP endpoint of the server, e.g. http://127.0.0.1:3001/mcp (with `via: agent`, only its path is used: the agent's config holds the server's address).",
  ),
  credential: z
    .strictObject({
      header: z.string().min(1).default('authorization').describe('Header set on every request to the server.'),
      value: z.string().min(1).describe('Header value, from a secret reference (`${env:...}` or `${file:...}`).'),
    })
    .optional()
    .describe("The credential the gateway sends to the server; the caller's token never goes upstream."),
});

const stdioUpstream = z.strictObject({
  transport: z.literal('stdio').describe('`stdio`: a local server the gateway starts as a child process.'),
  command: z.string().min(1).describe('Program to run (resolved on PATH).'),
  args: z.array(z.string()).default([]).describe('Its arguments.'),
  env: z
    .record(z.string(), z.string())
    .default({})
    .describe(
      "Environment of the child (values may be secret references); of the gateway's own only HOME, LOGNAME, PATH, SHELL, TERM and USER are passed on.",
    ),
  cwd: z.string().min(1).optional().describe('Working directory of the child.'),
});

export const mcpResourceSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
    .describe('Resource name; callers reach it at `/mcp/<name>` on the `mcp` listener.'),
  protocol: z.literal('mcp').describe('`mcp` for a Model Context Protocol server.'),
  // `via: agent` carries a Streamable HTTP server's requests through an agent, which holds its credential.
  ...routeFields,
  upstream: z
    .discriminatedUnion('transport', [httpUpstream, stdioUpstream], { error: 'expected transport: http or stdio' })
    .describe('The MCP server behind this resource.'),
  toolKinds: z
    .array(
      z.strictObject({
        tools: z.string().min(1).describe('Tool name pattern (`*` wildcard).'),
        kind: z.enum(OPERATION_KINDS).describe('The operation kind calls of matching tools are classified as.'),
      }),
    )
    .default([])
    .describe(
      'Operation kinds of tool calls (first match wins); a tool matching none is a `write`: it may do anything.',
    ),
  toolApprovers: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Groups who may accept a changed tool definition (`gatehouse mcp accept`); none: a changed tool stays hidden.',
    ),
  maskArguments: z
    .boolean()
    .default(false)
    .describe("Mask tool call arguments with the resource's masking profile before the server sees them."),
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024)
    .describe('Largest JSON-RPC message a caller may send.'),
  maxResultBytes: z
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024)
    .describe('Largest result (as JSON) relayed to a caller; larger ones are refused with an error.'),
  callTimeout: duration.default(60_000).describe('Longest wait for the server to answer one request.'),
  callBudgets: z
    .array(
      z.strictObject({
        tools: z.string().min(1).default('*').describe('Tool name pattern (`*` wildcard) the budget counts.'),
        calls: z.number().int().min(1).describe('Calls allowed per identity per tool in one window.'),
        window: duration.describe('The fixed window the calls are counted in.'),
      }),
    )
    .default([])
    .describe('Tool call budgets per identity and tool: a call over one gets a JSON-RPC error.'),
  policy: z
    .array(policyRule)
    .default([])
    .describe('Policy rules: who may call which tools, read which resources (nothing matching means deny).'),
  masking: resourceMaskingSchema
    .optional()
    .describe('Masking profile of this resource (inherits the top-level `masking` defaults).'),
});
