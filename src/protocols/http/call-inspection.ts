import type { IncomingMessage } from 'node:http';
import type { HttpResourceConfig } from '../../config/schema.js';
import type { Identity } from '../../core/identity.js';
import type { Operation } from '../../core/operation.js';
import { MaskCounts } from '../../masking/counts.js';
import { maskInferenceRequest } from '../../masking/inference-request.js';
import type { MaskingResolution } from '../../masking/profile.js';
import type { CallNote } from '../../session/session.js';
import type { HttpClassification, HttpClassifier, HttpRequestShape } from './classify.js';
import type { HttpConnector } from './connector.js';
import {
  ChromaCollectionDirectory,
  type CollectionDirectory,
  resolveCollection,
} from './providers/collection-directory.js';
import { serializeBody } from './providers/json-body.js';
import { warmTokenizers, worstCaseCost } from './providers/llm-cost.js';
import { ModelPriceTable } from './providers/model-prices.js';
import type { ProviderCall } from './providers/profile.js';
import { applyTenantFilter, tenantOf } from './providers/registry.js';
import { requestStreamUsage } from './providers/usage.js';
import { readBodyLimited } from './request-body.js';

/** What the listener keeps per HTTP resource. */
export interface ResourceContext {
  readonly resource: HttpResourceConfig;
  readonly classifier: HttpClassifier;
  readonly connector: HttpConnector;
  /** Chroma resources: collection ids to names, listed with the resource's own credential. */
  readonly directory?: CollectionDirectory;
  /** Set when a rule of the resource limits `maxCostUsd`: the prices the worst case is computed with. */
  readonly prices?: ModelPriceTable;
}

/**
 * Prices for a resource whose rules set `maxCostUsd` or that a money budget covers; undefined otherwise (no token
 * counting is paid then).
 */
export function priceTableFor(
  resource: HttpResourceConfig,
  budgets: readonly { usd?: number | undefined; resources?: string[] | undefined }[] = [],
): ModelPriceTable | undefined {
  const costLimited = resource.policy.some((rule) => rule.maxCostUsd !== undefined);
  const moneyBudget = budgets.some((b) => b.usd !== undefined && (b.resources?.includes(resource.name) ?? true));
  if (!costLimited && !moneyBudget) return undefined;
  warmTokenizers();
  return new ModelPriceTable(resource.modelPrices);
}

/** An inference call's worst-case price, for rules with `maxCostUsd`. */
function withCostEstimate(
  operation: Operation,
  call: ProviderCall,
  body: unknown,
  context: ResourceContext,
): Operation {
  if (context.prices === undefined || !call.metered || call.model === undefined || body === undefined) return operation;
  const cost = worstCaseCost(context.prices, call.model, body, call.maxOutputTokens);
  const why =
    cost.unbounded ??
    `worst case ${cost.promptTokens} prompt tokens + ${cost.outputTokens} output tokens of ${call.model} = $${cost.usd.toFixed(4)}`;
  return {
    ...operation,
    estimates: { ...operation.estimates, usd: cost.usd },
    notes: [...(operation.notes ?? []), why],
  };
}

export function collectionDirectoryFor(resource: HttpResourceConfig): CollectionDirectory | undefined {
  if (resource.profile !== 'chroma') return undefined;
  const { credential } = resource;
  return new ChromaCollectionDirectory({
    baseUrl: resource.target,
    ...(credential ? { headers: { [credential.header.toLowerCase()]: credential.value } } : {}),
    timeoutMs: resource.timeouts.headers,
  });
}

/** A request read and classified, before policy. */
export interface InspectedCall {
  readonly operation: Operation;
  readonly call: ProviderCall;
  readonly classification: HttpClassification;
  /** The buffered body (masked when prompt masking applied); undefined when the body was left to stream. */
  readonly raw?: Buffer;
  /** Values masked in the prompt, by type. */
  readonly maskedRequest: MaskCounts;
  /** Audit fields describing the call. */
  readonly note: CallNote;
}

/**
 * Classification before policy: buffers the body (bounded) only when the profile or an `inference` override needs
 * it, masks an inference prompt before anything is recorded or sent (classifying the masked body, so the recorded
 * estimate is of what is sent), and resolves Chroma collection ids to names so policy can speak of names.
 */
export async function inspectCall(
  req: IncomingMessage,
  context: ResourceContext,
  shape: HttpRequestShape,
  masking: MaskingResolution,
  limit: number,
): Promise<InspectedCall> {
  const { classifier } = context;
  let raw = classifier.needsBody(shape) ? await readBodyLimited(req, limit) : undefined;
  let classification = classifier.classify(shape, raw);
  const maskedRequest = new MaskCounts();
  const redactor = masking.mode === 'mask' && masking.plan.requests ? masking.plan.redactor : undefined;
  if (raw && redactor && classification.inference) {
    const masked = maskInferenceRequest(raw, redactor, maskedRequest);
    if (masked !== raw) {
      raw = masked;
      classification = classifier.classify(shape, raw);
    }
  }
  const call = await resolveCollection(
    classification.call ?? { kind: classification.kind, operation: 'other', metered: false, tenantScope: 'refuse' },
    classifier.request(shape),
    context.directory,
  );
  const measured = classifier.toOperation(
    shape,
    { ...classification, kind: call.kind },
    {
      ...(call.model === undefined ? {} : { model: call.model }),
      ...(call.collection === undefined ? {} : { collection: call.collection }),
      ...(call.unclassifiable === undefined ? {} : { unclassifiable: call.unclassifiable }),
    },
  );
  const operation = withCostEstimate(measured, call, classification.body, context);
  const note: CallNote = {
    call: call.operation,
    ...(call.metered ? { stream: call.stream === true } : {}),
    ...(call.maxOutputTokens === undefined ? {} : { maxOutputTokens: call.maxOutputTokens }),
    ...(call.metered && call.promptTokens !== undefined ? { promptTokensEstimate: call.promptTokens } : {}),
  };
  return { operation, call, classification, ...(raw === undefined ? {} : { raw }), maskedRequest, note };
}

/** The request body to forward, after policy allowed the call. */
export interface OutgoingBody {
  /** The gateway's bytes; undefined streams the caller's body as it comes (nothing was inspected). */
  readonly body: Buffer | undefined;
  /** The gateway asked a streamed call for usage the caller did not ask for: strip it from the response. */
  readonly stripUsage: boolean;
}

/**
 * The rewrites between the decision and the upstream: the tenant filter (vector stores; throws when the call cannot
 * be confined to the caller's tenant), then `stream_options.include_usage` on metered streamed calls. Whenever the
 * body was inspected, the upstream gets the gateway's re-serialisation of what policy judged, never the caller's
 * bytes (no duplicate key or odd encoding left for the upstream to read differently).
 */
export function outgoingBody(
  context: ResourceContext,
  inspected: InspectedCall,
  identity: Identity,
  limit: number,
): OutgoingBody {
  const { call, raw } = inspected;
  let body = inspected.classification.body;
  const filter = context.resource.tenantFilter;
  if (filter) body = applyTenantFilter(context.classifier.profile, call, body, tenantOf(filter, identity));
  let stripUsage = false;
  if (body && call.metered) {
    const rewritten = requestStreamUsage(call, body);
    body = rewritten.body;
    stripUsage = rewritten.stripUsageChunk;
  }
  return { body: body === undefined ? raw : serializeBody(body, limit), stripUsage };
}
