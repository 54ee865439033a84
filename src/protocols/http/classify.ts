import type { HttpResourceConfig } from '../../config/schema.js';
import type { KnownOperationKind, Operation } from '../../core/operation.js';
import { compilePathPattern, type PathPattern } from './path-pattern.js';

/** Default kind by method; methods not listed (CONNECT, TRACE, custom verbs) are `unknown` and so denied. */
const KIND_BY_METHOD: Readonly<Record<string, KnownOperationKind>> = Object.assign(Object.create(null), {
  GET: 'read',
  HEAD: 'read',
  OPTIONS: 'read',
  POST: 'write',
  PUT: 'write',
  PATCH: 'write',
  DELETE: 'write',
});

/** OpenAI-compatible (and Anthropic) inference routes: reads that carry a model name in their JSON body. */
const INFERENCE_ROUTES = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/messages',
].map((path) => ({ method: 'POST', path, kind: 'read' as const, inference: true }));

interface CompiledRoute {
  readonly method: string;
  readonly matches: PathPattern;
  readonly kind: KnownOperationKind;
  readonly inference: boolean;
}

export interface HttpRequestShape {
  readonly method: string;
  /** Decoded segments of the path below the resource's prefix. */
  readonly segments: readonly string[];
}

export interface HttpClassification {
  readonly kind: KnownOperationKind | 'unknown';
  /** True when the body must be read to find the model. */
  readonly inference: boolean;
}

/** Classifies HTTP requests of one resource: configured overrides first, then inference routes, then the method. */
export class HttpClassifier {
  private readonly routes: readonly CompiledRoute[];

  constructor(
    private readonly resource: string,
    overrides: HttpResourceConfig['operations'],
  ) {
    this.routes = [...overrides, ...INFERENCE_ROUTES].map((route) => ({
      method: route.method.toUpperCase(),
      matches: compilePathPattern(route.path),
      kind: route.kind,
      inference: route.inference,
    }));
  }

  classify(request: HttpRequestShape): HttpClassification {
    const method = request.method.toUpperCase();
    for (const route of this.routes) {
      if ((route.method === '*' || route.method === method) && route.matches(request.segments)) {
        return { kind: route.kind, inference: route.inference };
      }
    }
    return { kind: KIND_BY_METHOD[method] ?? 'unknown', inference: false };
  }

  toOperation(
    request: HttpRequestShape,
    classification: HttpClassification,
    extra: { model?: string; unclassifiable?: string },
  ): Operation {
    const path = `/${request.segments.join('/')}`;
    const action = `${request.method.toUpperCase()} ${path}`;
    return {
      protocol: 'http',
      resource: this.resource,
      kind: classification.kind,
      tags: [],
      action,
      text: action,
      ...(extra.model === undefined ? {} : { model: extra.model }),
      ...(extra.unclassifiable === undefined ? {} : { unclassifiable: extra.unclassifiable }),
    };
  }
}

/** Reads `model` from an inference body; undefined when absent, a reason string when the body is not JSON. */
export function readInferenceModel(body: Buffer): { model?: string; unclassifiable?: string } {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { unclassifiable: 'the request body is not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { unclassifiable: 'the request body is not a JSON object' };
  }
  const model = (parsed as { model?: unknown }).model;
  if (model === undefined) return {};
  if (typeof model !== 'string') return { unclassifiable: 'the model field is not a string' };
  return { model };
}
