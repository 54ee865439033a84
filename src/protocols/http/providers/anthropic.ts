import type { JsonObject } from './json-body.js';
import { classifyInference, type InferenceRoute } from './openai.js';
import { type ProviderProfile, type ProviderRequest, unclassifiable } from './profile.js';
import { estimateTokens } from './token-estimate.js';

/**
 * Anthropic's Messages API (https://docs.anthropic.com/en/api/messages): `POST /v1/messages` is a metered read with a
 * required `max_tokens`; `POST /v1/messages/count_tokens` is an unmetered read.
 */
const MESSAGES: InferenceRoute = {
  operation: 'messages',
  promptFields: ['system', 'messages', 'tools'],
  maxFields: ['max_tokens'],
  unbounded: true,
};

function path(request: ProviderRequest): string {
  // Case-blind, as upstreams that ignore case would route it (see openai.ts).
  return request.segments.join('/').toLowerCase();
}

export const anthropicProfile = {
  name: 'anthropic',
  needsBody: (request) =>
    request.method === 'POST' && (path(request) === 'v1/messages' || path(request) === 'v1/messages/count_tokens'),
  classify(request, body: JsonObject | undefined) {
    if (request.method === 'POST' && path(request) === 'v1/messages') {
      return classifyInference(MESSAGES, body) as NonNullable<ReturnType<typeof classifyInference>>;
    }
    if (request.method === 'POST' && path(request) === 'v1/messages/count_tokens') {
      const model = body?.model;
      if (model !== undefined && typeof model !== 'string')
        return unclassifiable('messages.count_tokens', 'the model field is not a string');
      return {
        kind: 'read',
        operation: 'messages.count_tokens',
        ...(typeof model === 'string' ? { model } : {}),
        metered: false,
        tenantScope: 'none',
        promptTokens: estimateTokens([body?.system, body?.messages]),
      };
    }
    const read = request.method === 'GET' || request.method === 'HEAD';
    return {
      kind: read ? 'read' : 'write',
      operation: read ? 'other.read' : 'other',
      metered: false,
      tenantScope: 'none',
    };
  },
} satisfies ProviderProfile;
