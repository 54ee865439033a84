import { isObject, type JsonObject } from './json-body.js';
import type { OwnershipProbe, ProviderCall, ProviderRequest, TenantConstraint } from './profile.js';
import { invalidBody } from './tenant-errors.js';

/**
 * Ownership probes of Chroma and Pinecone upserts (see tenant-ownership.ts): both overwrite a record with the same
 * id, metadata included, so an upsert stamped with the caller's tenant would take over another tenant's record.
 * Chroma's `add` needs none: it ignores ids that already exist.
 */

/**
 * Chroma: `POST .../collections/{id}/get` with the ids and `include: ["metadatas"]`
 * (https://docs.trychroma.com/reference), next to the upsert's own path; answers `{ids, metadatas}` side by side.
 */
export function chromaOwnershipProbe(
  call: ProviderCall,
  body: JsonObject,
  tenant: TenantConstraint,
  request: ProviderRequest,
): OwnershipProbe | undefined {
  if (call.operation !== 'records.upsert' || !Array.isArray(body.ids) || body.ids.length === 0) return undefined;
  const path = [...request.segments.slice(0, -1), 'get'].map(encodeURIComponent).join('/');
  return {
    method: 'POST',
    path: `/${path}`,
    body: { ids: body.ids, include: ['metadatas'] },
    foreign(answer) {
      if (!isObject(answer) || !Array.isArray(answer.ids)) throw invalidBody('unexpected ownership answer');
      const metadatas = Array.isArray(answer.metadatas) ? answer.metadatas : [];
      return answer.ids.filter((_, i) => !owned(metadatas[i], tenant)).map(String);
    },
  };
}

/**
 * Pinecone: `GET /vectors/fetch?ids=...&namespace=...` (https://docs.pinecone.io/reference/api/data-plane/fetch)
 * answers `{vectors: {id: {id, values, metadata}}}` for the ids that exist in the upsert's namespace.
 */
export function pineconeOwnershipProbe(
  call: ProviderCall,
  body: JsonObject,
  tenant: TenantConstraint,
): OwnershipProbe | undefined {
  if (call.operation !== 'vectors.upsert' || !Array.isArray(body.vectors) || body.vectors.length === 0)
    return undefined;
  const query = new URLSearchParams();
  for (const vector of body.vectors) if (isObject(vector)) query.append('ids', String(vector.id));
  if (typeof body.namespace === 'string' && body.namespace !== '') query.set('namespace', body.namespace);
  return {
    method: 'GET',
    path: `/vectors/fetch?${query.toString()}`,
    foreign(answer) {
      if (!isObject(answer) || !isObject(answer.vectors)) throw invalidBody('unexpected ownership answer');
      return Object.entries(answer.vectors)
        .filter(([, vector]) => !(isObject(vector) && owned(vector.metadata, tenant)))
        .map(([id]) => id);
    },
  };
}

function owned(metadata: unknown, tenant: TenantConstraint): boolean {
  return isObject(metadata) && metadata[tenant.field] === tenant.value;
}
