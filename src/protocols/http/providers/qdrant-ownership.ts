import { isObject, type JsonObject } from './json-body.js';
import type { OwnershipProbe, ProviderCall, TenantConstraint } from './profile.js';
import { invalidBody } from './tenant-errors.js';

/**
 * Before an upsert under a tenant filter: which of its point ids already exist, and whose they are. Qdrant's
 * retrieve API (`POST /collections/{name}/points` with `ids`, https://api.qdrant.tech/api-reference/points/get-points)
 * answers `{result: [{id, payload}]}` for the ids that exist; asking only for the tenant field keeps the answer small.
 * Qdrant has no conditional upsert a filter could confine, so the ids are checked first (see tenant-ownership.ts).
 */
export function qdrantOwnershipProbe(
  call: ProviderCall,
  body: JsonObject,
  tenant: TenantConstraint,
): OwnershipProbe | undefined {
  if (call.operation !== 'points.upsert' || call.collection === undefined) return undefined;
  const ids = upsertIds(body);
  if (ids.length === 0) return undefined;
  return {
    method: 'POST',
    path: `/collections/${encodeURIComponent(call.collection)}/points`,
    body: { ids, with_payload: [tenant.field], with_vector: false },
    foreign(answer) {
      const result = isObject(answer) ? answer.result : undefined;
      if (!Array.isArray(result)) throw invalidBody('the store answered the ownership check in an unknown shape');
      return result
        .filter((point) => !isObject(point) || tenantValue(point.payload, tenant.field) !== tenant.value)
        .map((point) => String(isObject(point) ? point.id : point));
    },
  };
}

function upsertIds(body: JsonObject): unknown[] {
  if (Array.isArray(body.points)) return body.points.map((point) => (isObject(point) ? point.id : undefined));
  if (isObject(body.batch) && Array.isArray(body.batch.ids)) return body.batch.ids;
  return [];
}

/** The tenant field of a payload; a dotted field is a nested path, as Qdrant's filter keys are. */
function tenantValue(payload: unknown, field: string): unknown {
  if (isObject(payload) && Object.hasOwn(payload, field)) return payload[field];
  let node: unknown = payload;
  for (const part of field.split('.')) node = isObject(node) ? node[part] : undefined;
  return node;
}
