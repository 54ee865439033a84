import { isObject, type JsonObject } from './json-body.js';
import type { ProviderCall, TenantConstraint } from './profile.js';
import { invalidBody, notTenantScoped } from './tenant-errors.js';

/**
 * Confines a Qdrant request to one tenant (https://qdrant.tech/documentation/concepts/filtering/). The caller's filter
 * becomes one nested clause of a new `must` next to the tenant condition, so nothing the caller writes (a `should`
 * that ORs around it, its own tenant value, `must_not`) can widen the result beyond the tenant's points.
 */
function scopedFilter(callerFilter: unknown, tenant: TenantConstraint): JsonObject {
  const condition = { key: tenant.field, match: { value: tenant.value } };
  if (callerFilter === undefined || callerFilter === null) return { must: [condition] };
  if (!isObject(callerFilter)) throw invalidBody('filter must be a JSON object');
  return { must: [condition, callerFilter] };
}

/** Search, query (with every nested prefetch), scroll, recommend, discover, count and facet requests. */
function scopeSearch(request: unknown, tenant: TenantConstraint, depth = 0): JsonObject {
  if (!isObject(request)) throw invalidBody('expected a JSON object');
  if (depth > 16) throw invalidBody('prefetch is nested too deeply');
  const scoped: JsonObject = { ...request, filter: scopedFilter(request.filter, tenant) };
  const prefetch = request.prefetch;
  if (Array.isArray(prefetch)) scoped.prefetch = prefetch.map((p) => scopeSearch(p, tenant, depth + 1));
  else if (prefetch !== undefined && prefetch !== null) scoped.prefetch = scopeSearch(prefetch, tenant, depth + 1);
  return scoped;
}

/** Point ids become a `has_id` condition, so a by-id selector cannot reach another tenant's points. */
function scopeSelector(body: JsonObject, tenant: TenantConstraint): JsonObject {
  const { points, ...rest } = body;
  if (points === undefined) return { ...rest, filter: scopedFilter(body.filter, tenant) };
  if (!Array.isArray(points)) throw invalidBody('points must be an array of ids');
  if (body.filter !== undefined) throw invalidBody('give either points or filter, not both');
  return { ...rest, filter: scopedFilter({ must: [{ has_id: points }] }, tenant) };
}

function stampPayload(payload: unknown, tenant: TenantConstraint): JsonObject {
  if (payload !== undefined && payload !== null && !isObject(payload)) throw invalidBody('payload must be an object');
  return { ...(payload ?? {}), [tenant.field]: tenant.value };
}

function scopeUpsert(body: JsonObject, tenant: TenantConstraint): JsonObject {
  if (Array.isArray(body.points)) {
    return {
      ...body,
      points: body.points.map((point) => {
        if (!isObject(point)) throw invalidBody('each point must be an object');
        return { ...point, payload: stampPayload(point.payload, tenant) };
      }),
    };
  }
  if (isObject(body.batch) && Array.isArray(body.batch.ids)) {
    const payloads = body.batch.payloads;
    if (payloads !== undefined && payloads !== null && !Array.isArray(payloads))
      throw invalidBody('batch.payloads must be an array');
    return {
      ...body,
      batch: { ...body.batch, payloads: body.batch.ids.map((_, i) => stampPayload(payloads?.[i], tenant)) },
    };
  }
  throw invalidBody('expected points or batch');
}

export function scopeQdrantToTenant(call: ProviderCall, body: JsonObject, tenant: TenantConstraint): JsonObject {
  switch (call.operation) {
    case 'points.upsert':
      return scopeUpsert(body, tenant);
    case 'points.delete':
      return scopeSelector(body, tenant);
    case 'payload.set':
      // `key` writes the payload under a nested path, which could be the tenant field itself.
      if (body.key !== undefined || (isObject(body.payload) && Object.hasOwn(body.payload, tenant.field)))
        throw notTenantScoped('the tenant field cannot be changed');
      return scopeSelector(body, tenant);
    case 'payload.overwrite':
      return { ...scopeSelector(body, tenant), payload: stampPayload(body.payload, tenant) };
    case 'payload.delete':
      if (!Array.isArray(body.keys) || body.keys.includes(tenant.field))
        throw notTenantScoped('the tenant field cannot be removed');
      return scopeSelector(body, tenant);
    default:
      break;
  }
  if (call.tenantScope !== 'filter') throw notTenantScoped(`${call.operation} cannot be confined to one tenant`);
  if (call.operation.endsWith('.batch')) {
    if (!Array.isArray(body.searches)) throw invalidBody('expected searches');
    return { ...body, searches: body.searches.map((s) => scopeSearch(s, tenant)) };
  }
  return scopeSearch(body, tenant);
}
