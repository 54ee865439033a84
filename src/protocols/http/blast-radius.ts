/**
 * Vector blast radius, for rules with `maxPoints`: before a delete (or payload update) by filter, the gateway counts
 * the records the filter selects with the store's own API, with the caller's tenant filter applied as it will be to
 * the call itself, and hands the figure to policy as `estimates.points`:
 * - Qdrant: `POST /collections/{name}/points/count` with the filter, `exact: true`;
 * - Chroma: `POST .../collections/{id}/get` with the same `where` / `where_document` / `ids` and `include: []`,
 *   counting the ids it returns (Chroma's own count takes no filter);
 * - Pinecone: `POST /describe_index_stats` with the delete's (or update's) `filter`, reading the vector count of its
 *   namespace (https://docs.pinecone.io/reference/api/data-plane/describeindexstats). Only pod-based indexes
 *   filter stats: a serverless index refuses, and its deletes by filter are then unbounded.
 * Fails closed: a count the store cannot give is unbounded (over every limit), so the call needs review. Paid only
 * where a rule of the resource sets maxPoints.
 */
import type { Identity } from '../../core/identity.js';
import type { Operation } from '../../core/operation.js';
import type { InspectedCall, ResourceContext } from './call-inspection.js';
import type { HttpRequestShape } from './classify.js';
import { isObject, type JsonObject } from './providers/json-body.js';
import { applyTenantFilter, tenantOf } from './providers/registry.js';
import { ask } from './tenant-ownership.js';

interface CountRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  /** The number of records in the store's answer. */
  count(answer: unknown): number | undefined;
}

/** Qdrant calls that act on every point a filter selects. */
const QDRANT_FILTERED = new Set(['points.delete', 'payload.set', 'payload.overwrite', 'payload.delete']);

function countRequest(context: ResourceContext, inspected: InspectedCall, scoped: JsonObject, shape: HttpRequestShape) {
  const { call } = inspected;
  const profile = context.resource.profile;
  if (profile === 'qdrant' && QDRANT_FILTERED.has(call.operation) && call.collection !== undefined) {
    if (!isObject(scoped.filter)) return undefined;
    return {
      method: 'POST',
      path: `/collections/${encodeURIComponent(call.collection)}/points/count`,
      body: { filter: scoped.filter, exact: true },
      count: (answer) => {
        const count = isObject(answer) && isObject(answer.result) ? answer.result.count : undefined;
        return typeof count === 'number' ? count : undefined;
      },
    } satisfies CountRequest;
  }
  if (profile === 'chroma' && call.operation === 'records.delete') {
    if (scoped.where === undefined && scoped.where_document === undefined) return undefined;
    const selector = Object.fromEntries(
      ['where', 'where_document', 'ids'].filter((key) => scoped[key] !== undefined).map((key) => [key, scoped[key]]),
    );
    // The same collection's `get`: the delete's path with its last segment replaced.
    const path = `/${[...shape.segments.slice(0, -1), 'get'].map(encodeURIComponent).join('/')}`;
    return {
      method: 'POST',
      path,
      body: { ...selector, include: [] },
      count: (answer) => (isObject(answer) && Array.isArray(answer.ids) ? answer.ids.length : undefined),
    } satisfies CountRequest;
  }
  if (profile === 'pinecone' && PINECONE_FILTERED.has(call.operation)) {
    if (!isObject(scoped.filter)) return undefined;
    const namespace = typeof scoped.namespace === 'string' ? scoped.namespace : '';
    return {
      method: 'POST',
      path: '/describe_index_stats',
      body: { filter: scoped.filter },
      count: (answer) => pineconeNamespaceCount(answer, namespace),
    } satisfies CountRequest;
  }
  return undefined;
}

/** Pinecone calls that act on every vector a metadata filter selects. */
const PINECONE_FILTERED = new Set(['vectors.delete', 'vectors.update']);

/**
 * The vectors of `namespace` in a stats answer. A namespace no vector matched is left out of it: none. The default
 * namespace is `""`, named `__default__` by newer API versions.
 */
function pineconeNamespaceCount(answer: unknown, namespace: string): number | undefined {
  if (!isObject(answer) || !isObject(answer.namespaces)) return undefined;
  const namespaces = answer.namespaces;
  const key = namespace === '' && !Object.hasOwn(namespaces, '') ? '__default__' : namespace;
  if (!Object.hasOwn(namespaces, key)) return 0;
  const entry = namespaces[key];
  return isObject(entry) && typeof entry.vectorCount === 'number' ? entry.vectorCount : undefined;
}

export async function withBlastRadius(
  context: ResourceContext,
  inspected: InspectedCall,
  identity: Identity,
  shape: HttpRequestShape,
): Promise<InspectedCall> {
  if (!context.resource.policy.some((rule) => rule.maxPoints !== undefined)) return inspected;
  const { call } = inspected;
  const body = inspected.classification.body;
  if (body === undefined) return inspected;
  let request: CountRequest | undefined;
  let points: number;
  let why: string;
  const what = `${call.operation} by filter on ${call.collection ?? 'the collection'}`;
  try {
    const tenantFilter = context.resource.tenantFilter;
    const scoped = tenantFilter
      ? applyTenantFilter(context.classifier.profile, call, body, tenantOf(tenantFilter, identity))
      : body;
    request = countRequest(context, inspected, scoped ?? body, shape);
    if (request === undefined) return inspected;
    const count = request.count(await ask(context.connector, context.resource, request));
    if (count === undefined || !Number.isFinite(count) || count < 0) throw new Error('no count in the answer');
    points = count;
    why = `${what} selects ${count} records (counted first)`;
  } catch (error) {
    // A call the tenant filter refuses is refused later, as before; no count is needed for it.
    if (request === undefined) return inspected;
    points = Number.POSITIVE_INFINITY;
    why = `${what}: the store could not count the records (${error instanceof Error ? error.message : 'error'}), so the count is unbounded`;
  }
  const operation: Operation = {
    ...inspected.operation,
    estimates: { ...inspected.operation.estimates, points },
    notes: [...(inspected.operation.notes ?? []), why],
  };
  return { ...inspected, operation };
}
