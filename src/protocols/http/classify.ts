import type { ProfileName } from '../../config/protocol-options.js';
import type { HttpResourceConfig } from '../../config/schema.js';
import type { KnownOperationKind, Operation, OperationKind } from '../../core/operation.js';
import { compilePathPattern, type PathPattern } from './path-pattern.js';
import { anthropicProfile } from './providers/anthropic.js';
import { parseJsonBody } from './providers/json-body.js';
import { openAiProfile } from './providers/openai.js';
import type { JsonObject, ProviderCall, ProviderProfile, ProviderRequest } from './providers/profile.js';
import { classifyCall, profileFor } from './providers/registry.js';

/** Kind by method; methods not listed (CONNECT, TRACE, custom verbs) are `unknown` and so denied, whatever the profile. */
const KIND_BY_METHOD: Readonly<Record<string, KnownOperationKind>> = Object.assign(Object.create(null), {
  GET: 'read',
  HEAD: 'read',
  OPTIONS: 'read',
  POST: 'write',
  PUT: 'write',
  PATCH: 'write',
  DELETE: 'write',
});

/**
 * A resource without `profile:` speaks OpenAI-compatible inference, and its `POST /v1/messages` is still read as an
 * Anthropic Messages call (as before profiles existed), so an Anthropic SDK pointed at a default resource is metered.
 */
const isMessages = (request: ProviderRequest) =>
  request.method === 'POST' && request.segments.join('/').toLowerCase() === 'v1/messages';
const DEFAULT_PROFILE: ProviderProfile = {
  name: 'openai',
  needsBody: (request) => isMessages(request) || openAiProfile.needsBody(request),
  classify: (request, body) =>
    isMessages(request) ? anthropicProfile.classify(request, body) : openAiProfile.classify(request, body),
};

interface CompiledOverride {
  readonly method: string;
  readonly matches: PathPattern;
  readonly kind: KnownOperationKind;
  readonly inference: boolean;
}

export interface HttpRequestShape {
  readonly method: string;
  /** Decoded segments of the path below the resource's prefix. */
  readonly segments: readonly string[];
  /** The query string (Pinecone fetch carries its arguments there); empty when absent. */
  readonly query?: URLSearchParams;
}

export interface HttpClassification {
  readonly kind: OperationKind;
  /** True for inference calls: their body names a model and their tokens count against budgets. */
  readonly inference: boolean;
  /** The profile's reading of the call, with any configured override applied. */
  readonly call?: ProviderCall;
  /** The parsed JSON body when one was read: the tenant and usage rewrites start from it. */
  readonly body?: JsonObject;
}

export interface HttpClassifierOptions {
  readonly profile?: ProfileName;
  /** The resource's target URL (Pinecone names its index in the host). */
  readonly target?: string;
}

/**
 * Classifies HTTP requests of one resource with its provider profile (`profile:`, OpenAI-compatible by default).
 * Configured `operations:` overrides win over the profile's kind: an operator who wrote an override for a path made
 * the more specific statement. The profile still supplies model, collection, token figures and tenant scope, so an
 * override can never switch off a tenant filter or metering. Unknown methods stay `unknown` whatever the profile says.
 */
export class HttpClassifier {
  readonly profile: ProviderProfile;
  private readonly overrides: readonly CompiledOverride[];
  private readonly targetHost: string;

  constructor(
    private readonly resource: string,
    overrides: HttpResourceConfig['operations'],
    options: HttpClassifierOptions = {},
  ) {
    this.profile = options.profile === undefined ? DEFAULT_PROFILE : profileFor(options.profile);
    this.targetHost = options.target === undefined ? '' : new URL(options.target).hostname;
    this.overrides = overrides.map((route) => ({
      method: route.method.toUpperCase(),
      matches: compilePathPattern(route.path),
      kind: route.kind,
      inference: route.inference,
    }));
  }

  /** The request as profiles see it. */
  request(shape: HttpRequestShape): ProviderRequest {
    return {
      method: shape.method.toUpperCase(),
      segments: shape.segments,
      query: shape.query ?? new URLSearchParams(),
      targetHost: this.targetHost,
    };
  }

  /** Whether the body must be read (bounded) before the call can be classified. */
  needsBody(shape: HttpRequestShape): boolean {
    const request = this.request(shape);
    return this.profile.needsBody(request) || this.override(request)?.inference === true;
  }

  /** `raw` is the buffered body when `needsBody` said so; without it the profile classifies from method and path. */
  classify(shape: HttpRequestShape, raw?: Buffer): HttpClassification {
    const request = this.request(shape);
    const classified = classifyCall(this.profile, request, raw);
    let call = classified.call;
    if (call.operation === 'other' || call.operation === 'other.read') {
      // Inference profiles know only their inference routes; everything else is judged by its method.
      if (this.profile.name === 'openai' || this.profile.name === 'anthropic')
        call = { ...call, kind: KIND_BY_METHOD[request.method] ?? 'unknown' };
    }
    const override = this.override(request);
    if (override) {
      call = { ...call, kind: override.kind };
      if (override.inference && call.model === undefined && call.unclassifiable === undefined)
        call = withModel(call, raw ?? Buffer.alloc(0));
    }
    if (KIND_BY_METHOD[request.method] === undefined && override?.method !== request.method)
      call = { ...call, kind: 'unknown' };
    return {
      kind: call.kind,
      inference: call.metered || override?.inference === true,
      call,
      ...(classified.body === undefined ? {} : { body: classified.body }),
    };
  }

  toOperation(
    request: HttpRequestShape,
    classification: HttpClassification,
    extra: { model?: string; collection?: string; unclassifiable?: string },
  ): Operation {
    const path = `/${request.segments.join('/')}`;
    const action = `${request.method.toUpperCase()} ${path}`;
    return {
      protocol: 'http',
      resource: this.resource,
      kind: classification.kind,
      tags: deletesWholeCollection(classification) ? ['collection-delete'] : [],
      action,
      text: action,
      ...(extra.model === undefined ? {} : { model: extra.model }),
      ...(extra.collection === undefined ? {} : { collection: extra.collection }),
      ...(extra.unclassifiable === undefined ? {} : { unclassifiable: extra.unclassifiable }),
    };
  }

  private override(request: ProviderRequest): CompiledOverride | undefined {
    return this.overrides.find(
      (route) => (route.method === '*' || route.method === request.method) && route.matches(request.segments),
    );
  }
}

/** An `inference: true` override on a route the profile does not know: the model comes from the JSON body. */
function withModel(call: ProviderCall, raw: Buffer): ProviderCall {
  const read = readInferenceModel(raw);
  if (read.unclassifiable !== undefined) return { ...call, unclassifiable: read.unclassifiable };
  // No model, no call: a model allow-list can only judge a model that is named (fail closed).
  return read.model === undefined
    ? { ...call, unclassifiable: 'the request names no model' }
    : { ...call, model: read.model };
}

/** Reads `model` from an inference body; undefined when absent, a reason string when the body is not JSON. */
export function readInferenceModel(body: Buffer): { model?: string; unclassifiable?: string } {
  const parsed = parseJsonBody(body);
  if (parsed.unclassifiable !== undefined) return { unclassifiable: parsed.unclassifiable };
  const model = parsed.body?.model;
  if (model === undefined) return {};
  if (typeof model !== 'string') return { unclassifiable: 'the model field is not a string' };
  return { model };
}

/** A whole collection, or every vector of a Pinecone namespace (`deleteAll`), goes at once. */
function deletesWholeCollection(classification: HttpClassification): boolean {
  const call = classification.call;
  if (call?.operation === 'collection.delete') return true;
  return call?.operation === 'vectors.delete' && classification.body?.['deleteAll'] === true;
}
