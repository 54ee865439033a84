/**
 * Vector blast radius, for rules with `maxPoints`: before a delete (or payload update) by filter on a Qdrant
 * collection, the gateway counts the points the filter selects with the store's count API (`POST
 * /collections/{name}/points/count`, exact), with the caller's tenant filter applied as it will be to the call
 * itself, and hands the figure to policy as `estimates.points`. Fails closed: a count the store cannot give is
 * unbounded (over every limit), so the call needs review. Only paid where a rule of the resource sets maxPoints.
 * Chroma and Pinecone calls are not counted yet: their filter deletes are judged by kind alone.
 */
import type { Identity } from '../../core/identity.js';
import type { Operation } from '../../core/operation.js';
import type { InspectedCall, ResourceContext } from './call-inspection.js';
import { isObject } from './providers/json-body.js';
import { applyTenantFilter, tenantOf } from './providers/registry.js';
import { ask } from './tenant-ownership.js';

/** Qdrant calls that act on every point a filter selects. */
const FILTERED_WRITES = new Set(['points.delete', 'payload.set', 'payload.overwrite', 'payload.delete']);

export function countsBlastRadius(context: ResourceContext): boolean {
  return context.resource.profile === 'qdrant' && context.resource.policy.some((rule) => rule.maxPoints !== undefined);
}

export async function withBlastRadius(
  context: ResourceContext,
  inspected: InspectedCall,
  identity: Identity,
): Promise<InspectedCall> {
  const { call } = inspected;
  const body = inspected.classification.body;
  if (!countsBlastRadius(context) || !FILTERED_WRITES.has(call.operation) || call.collection === undefined) {
    return inspected;
  }
  if (body === undefined || !isObject(body.filter)) return inspected;
  let points: number;
  let why: string;
  try {
    const tenantFilter = context.resource.tenantFilter;
    const scoped = tenantFilter
      ? applyTenantFilter(context.classifier.profile, call, body, tenantOf(tenantFilter, identity))
      : body;
    const answer = await ask(context.connector, context.resource, {
      method: 'POST',
      path: `/collections/${encodeURIComponent(call.collection)}/points/count`,
      body: { filter: scoped?.filter, exact: true },
    });
    const count = isObject(answer) && isObject(answer.result) ? answer.result.count : undefined;
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) throw new Error('no count in the answer');
    points = count;
    why = `${call.operation} by filter on ${call.collection} selects ${count} points (count API)`;
  } catch (error) {
    points = Number.POSITIVE_INFINITY;
    why = `${call.operation} by filter on ${call.collection}: the store could not count the points (${error instanceof Error ? error.message : 'error'}), so the count is unbounded`;
  }
  const operation: Operation = {
    ...inspected.operation,
    estimates: { ...inspected.operation.estimates, points },
    notes: [...(inspected.operation.notes ?? []), why],
  };
  return { ...inspected, operation };
}
