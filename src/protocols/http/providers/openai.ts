import { intField, type JsonObject } from './json-body.js';
import type { ProviderCall, ProviderProfile, ProviderRequest } from './profile.js';
import { estimateTokens } from './token-estimate.js';

/**
 * OpenAI-compatible inference APIs (https://platform.openai.com/docs/api-reference): chat completions, legacy
 * completions, embeddings and responses. Each is a metered read that names its model in the JSON body.
 */
interface InferenceRoute {
  readonly operation: string;
  /** Body fields that make up the prompt. */
  readonly promptFields: readonly string[];
  /** Output ceiling fields, first present wins; none for embeddings. */
  readonly maxFields: readonly string[];
  /** Whether a missing ceiling means "up to the model's limit" (reserve the configured default). */
  readonly unbounded: boolean;
}

const ROUTES: Readonly<Record<string, InferenceRoute>> = Object.assign(Object.create(null), {
  'chat/completions': {
    operation: 'chat.completions',
    promptFields: ['messages', 'tools', 'functions'],
    maxFields: ['max_completion_tokens', 'max_tokens'],
    unbounded: true,
  },
  // The legacy endpoint's default is 16 tokens.
  completions: {
    operation: 'completions',
    promptFields: ['prompt', 'suffix'],
    maxFields: ['max_tokens'],
    unbounded: false,
  },
  embeddings: { operation: 'embeddings', promptFields: ['input'], maxFields: [], unbounded: false },
  responses: {
    operation: 'responses',
    promptFields: ['input', 'instructions', 'tools'],
    maxFields: ['max_output_tokens'],
    unbounded: true,
  },
});

/** Legacy completions without `max_tokens` produce at most 16 tokens. */
const COMPLETIONS_DEFAULT_MAX = 16;

function inferenceRoute(request: ProviderRequest): InferenceRoute | undefined {
  const [version, ...rest] = request.segments;
  // Case-blind, as upstreams that ignore case would route it: `/V1/Chat/Completions` is still metered and judged.
  if (request.method !== 'POST' || version?.toLowerCase() !== 'v1') return undefined;
  return ROUTES[rest.join('/').toLowerCase()];
}

export function classifyInference(
  route: InferenceRoute | undefined,
  body: JsonObject | undefined,
): ProviderCall | undefined {
  if (!route) return undefined;
  const base = { kind: 'read' as const, operation: route.operation, metered: true, tenantScope: 'none' as const };
  const model = body?.model;
  if (model !== undefined && typeof model !== 'string')
    return { ...base, unclassifiable: 'the model field is not a string' };
  let maxOutputTokens: number | undefined;
  for (const field of route.maxFields) {
    const value = intField(body, field);
    if (Number.isNaN(value)) return { ...base, unclassifiable: `${field} is not a non-negative integer` };
    if (value !== undefined) {
      maxOutputTokens = value;
      break;
    }
  }
  if (maxOutputTokens === undefined && route.maxFields.length === 0) maxOutputTokens = 0;
  if (maxOutputTokens === undefined && !route.unbounded) maxOutputTokens = COMPLETIONS_DEFAULT_MAX;
  const stream = body?.stream;
  if (stream !== undefined && typeof stream !== 'boolean')
    return { ...base, unclassifiable: 'the stream field is not a boolean' };
  const prompt = route.promptFields.map((field) => body?.[field]);
  return {
    ...base,
    // No model, no call: a rule's model allow-list can only judge a model that is named (fail closed).
    ...(model === undefined ? { unclassifiable: 'the request names no model' } : { model }),
    ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }),
    stream: stream === true,
    promptTokens: estimateTokens(prompt),
  };
}

export const openAiProfile = {
  name: 'openai',
  needsBody: (request) => inferenceRoute(request) !== undefined,
  classify(request, body) {
    const call = classifyInference(inferenceRoute(request), body);
    if (call) return call;
    // Listing models and everything else: by method, unmetered.
    const read = request.method === 'GET' || request.method === 'HEAD';
    return {
      kind: read ? 'read' : 'write',
      operation: read ? 'other.read' : 'other',
      metered: false,
      tenantScope: 'none',
    };
  },
} satisfies ProviderProfile;

export type { InferenceRoute };
