// The `protocol: http` resource: an HTTP upstream (LLM endpoints, vector stores, internal APIs) behind the gateway.
import { z } from 'zod';
import { OPERATION_KINDS } from '../core/operation.js';
import { policyAndMaskingFields } from './policy-rule-schema.js';
import { modelPricesSchema } from './price-schema.js';
import { PROFILE_NAMES, tenantFilterSchema } from './protocol-options.js';
import { duration, httpUrl, routeFields } from './schema-parts.js';

const credential = z.strictObject({
  /** Header to set on every upstream request; the caller's own `authorization` is always removed. */
  header: z
    .string()
    .min(1)
    .default('authorization')
    .describe("Header to set on every upstream request; the caller's own `authorization` is always removed."),
  value: z.string().min(1).describe('Header value, from a secret reference (`${env:...}` or `${file:...}`).'),
});

const httpOperationOverride = z.strictObject({
  /** HTTP method, or `*` for any. */
  method: z.string().min(1).default('*').describe('HTTP method, or `*` for any.'),
  /** Path pattern relative to the resource: `*` matches one segment, `**` the rest. */
  path: z
    .string()
    .startsWith('/')
    .describe('Path pattern relative to the resource: `*` matches one segment, `**` the rest.'),
  kind: z.enum(OPERATION_KINDS).describe('The operation kind requests matching this entry are classified as.'),
  /** Read the JSON body's `model` field (inference routes). */
  inference: z.boolean().default(false).describe("Read the JSON body's `model` field (inference routes)."),
});

export const httpResourceSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
    .describe('Resource name (lower-case letters, digits, - or _); policy, audit and `policy explain` use it.'),
  protocol: z.literal('http').describe('`http` for an HTTP upstream.'),
  target: httpUrl.describe("Upstream base URL (with `via: agent`, the agent's config holds the real one)."),
  ...routeFields,
  /** Requests whose path starts with this prefix go to this resource; the prefix is removed upstream. */
  pathPrefix: z
    .string()
    .regex(/^\/[^?#]*[^/?#]$/, 'expected a path prefix such as /llm (no trailing slash)')
    .optional()
    .describe('Requests whose path starts with this prefix go to this resource; the prefix is removed upstream.'),
  /** Optionally route by Host header instead of (or as well as) the path prefix. */
  host: z
    .string()
    .min(1)
    .optional()
    .describe('Optionally route by Host header instead of (or as well as) the path prefix.'),
  credential: credential
    .optional()
    .describe("The credential the gateway sends upstream in place of the caller's token."),
  timeouts: z
    .strictObject({
      connect: duration.default(5_000).describe('Longest wait to connect to the upstream.'),
      /** Until the upstream's response headers arrive. */
      headers: duration.default(60_000).describe("Until the upstream's response headers arrive."),
      /** Longest silence while streaming a body, in either direction. */
      idle: duration.default(300_000).describe('Longest silence while streaming a body, in either direction.'),
    })
    .prefault({})
    .describe('Upstream timeouts.'),
  operations: z
    .array(httpOperationOverride)
    .default([])
    .describe(
      'Classification overrides: method and path pattern to operation kind, checked before the built-in rules.',
    ),
  /** What the upstream speaks (inference or vector-store API): classification by operation, model and collection. */
  profile: z
    .enum(PROFILE_NAMES)
    .optional()
    .describe(
      'What the upstream speaks (inference or vector-store API): classification by operation, model and collection.',
    ),
  /** Vector stores: constrain search, scroll and delete requests to the caller's tenant (claim value). */
  tenantFilter: tenantFilterSchema
    .optional()
    .describe("Vector stores: constrain search, scroll and delete requests to the caller's tenant (claim value)."),
  modelPrices: modelPricesSchema.optional(),
  ...policyAndMaskingFields,
});
