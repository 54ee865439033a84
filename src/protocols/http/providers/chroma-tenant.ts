import { isObject, type JsonObject } from './json-body.js';
import type { ProviderCall, TenantConstraint } from './profile.js';
import { invalidBody, notTenantScoped } from './tenant-errors.js';

/**
 * Confines a Chroma request to one tenant (https://docs.trychroma.com/docs/querying-collections/metadata-filtering):
 * `where` becomes `{$and: [{field: {$eq: value}}, <caller's where>]}`, so an `$or` the caller writes stays inside the
 * conjunction. Chroma rejects an `$and` of one element, hence the bare condition when the caller sent no filter.
 */
function scopedWhere(callerWhere: unknown, tenant: TenantConstraint): JsonObject {
  const condition = { [tenant.field]: { $eq: tenant.value } };
  if (callerWhere === undefined || callerWhere === null) return condition;
  if (!isObject(callerWhere)) throw invalidBody('where must be a JSON object');
  if (Object.keys(callerWhere).length === 0) return condition;
  return { $and: [condition, callerWhere] };
}

function stampMetadatas(body: JsonObject, tenant: TenantConstraint): JsonObject {
  if (!Array.isArray(body.ids)) throw invalidBody('ids must be an array');
  const metadatas = body.metadatas;
  if (metadatas !== undefined && metadatas !== null && !Array.isArray(metadatas))
    throw invalidBody('metadatas must be an array');
  return {
    ...body,
    metadatas: body.ids.map((_, i) => {
      const metadata = metadatas?.[i];
      if (metadata !== undefined && metadata !== null && !isObject(metadata))
        throw invalidBody('metadata must be an object');
      return { ...(metadata ?? {}), [tenant.field]: tenant.value };
    }),
  };
}

export function scopeChromaToTenant(call: ProviderCall, body: JsonObject, tenant: TenantConstraint): JsonObject {
  if (call.tenantScope === 'stamp') return stampMetadatas(body, tenant);
  if (call.tenantScope !== 'filter') throw notTenantScoped(`${call.operation} cannot be confined to one tenant`);
  // get, query and delete all accept `where` next to ids; with ids, the filter still has to hold.
  return { ...body, where: scopedWhere(body.where, tenant) };
}
