import type { KnownOperationKind } from '../../../core/operation.js';
import { scopeChromaToTenant } from './chroma-tenant.js';
import { isObject, type JsonObject } from './json-body.js';
import {
  type ProviderCall,
  type ProviderProfile,
  type ProviderRequest,
  type TenantScope,
  unclassifiable,
  unknownRoute,
} from './profile.js';
import { chromaOwnershipProbe } from './record-ownership.js';

/**
 * Chroma's REST API, v1 (`/api/v1/collections/...`) and v2 (`/api/v2/tenants/{t}/databases/{d}/collections/...`),
 * per its OpenAPI document. Getting and deleting a collection name it in the path; data calls (add, upsert, update,
 * get, query, delete, count) and collection updates name its UUID, which `collection-directory.ts` resolves to the
 * name so policy can still speak of names. Names are case-sensitive upstream; UUIDs are compared lower-case.
 */
interface DataRoute {
  readonly kind: KnownOperationKind;
  readonly operation: string;
  readonly tenantScope: TenantScope;
  readonly method: string;
}

const DATA_ROUTES: Readonly<Record<string, DataRoute>> = Object.assign(Object.create(null), {
  add: { method: 'POST', kind: 'write', operation: 'records.add', tenantScope: 'stamp' },
  upsert: { method: 'POST', kind: 'write', operation: 'records.upsert', tenantScope: 'stamp' },
  // Updates address records by id only and could move one into another tenant: refused under a tenant filter.
  update: { method: 'POST', kind: 'write', operation: 'records.update', tenantScope: 'refuse' },
  get: { method: 'POST', kind: 'read', operation: 'records.get', tenantScope: 'filter' },
  query: { method: 'POST', kind: 'read', operation: 'records.query', tenantScope: 'filter' },
  delete: { method: 'POST', kind: 'write', operation: 'records.delete', tenantScope: 'filter' },
  count: { method: 'GET', kind: 'read', operation: 'records.count', tenantScope: 'refuse' },
});

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Chroma parses ids as UUIDs: any case, with or without hyphens. The canonical form is lower-case, hyphenated. */
function canonicalCollectionId(text: string): string | undefined {
  if (!UUID.test(text)) return undefined;
  const hex = text.replaceAll('-', '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The segments after `collections`, or undefined for routes outside collections. */
function collectionPath(segments: readonly string[]): { rest: readonly string[]; collections: boolean } {
  const [api, version, ...tail] = segments;
  if (api !== 'api') return { rest: [], collections: false };
  let rest = tail;
  if (version === 'v2') {
    if (tail[0] !== 'tenants' || tail[2] !== 'databases' || tail.length < 5) return { rest: [], collections: false };
    rest = tail.slice(4);
  } else if (version !== 'v1') return { rest: [], collections: false };
  return rest[0] === 'collections' ? { rest: rest.slice(1), collections: true } : { rest: [], collections: false };
}

function needsBody(request: ProviderRequest): boolean {
  const { rest, collections } = collectionPath(request.segments);
  if (!collections || request.method !== 'POST') return false;
  return rest.length === 0 || (rest.length === 2 && DATA_ROUTES[rest[1] as string] !== undefined);
}

function classifyDelete(call: ProviderCall, body: JsonObject): ProviderCall {
  const where = body.where;
  const whereDocument = body.where_document;
  const filtered =
    (where !== undefined && where !== null && !(isObject(where) && Object.keys(where).length === 0)) ||
    (whereDocument !== undefined && whereDocument !== null);
  // Without ids, a delete removes whatever the filter (or nothing: everything) selects: a bulk delete.
  if (filtered || !Array.isArray(body.ids)) return { ...call, kind: 'ddl' };
  return call;
}

export const chromaProfile = {
  name: 'chroma',
  needsBody,
  classify(request, body) {
    const { rest, collections } = collectionPath(request.segments);
    if (!collections) return unknownRoute(request);
    const { method } = request;
    const base = { metered: false } as const;
    if (rest.length === 0) {
      if (method === 'GET') return { ...base, kind: 'read', operation: 'collections.list', tenantScope: 'none' };
      if (method !== 'POST') return unknownRoute(request);
      const name = body?.name;
      if (typeof name !== 'string') return unclassifiable('collection.create', 'the collection name is missing');
      return { ...base, kind: 'ddl', operation: 'collection.create', collection: name, tenantScope: 'none' };
    }
    const target = rest[0] as string;
    if (rest.length === 1) {
      if (method === 'GET')
        return { ...base, kind: 'read', operation: 'collection.info', collection: target, tenantScope: 'none' };
      if (method === 'DELETE')
        return { ...base, kind: 'ddl', operation: 'collection.delete', collection: target, tenantScope: 'refuse' };
      if (method === 'PUT')
        return byId(target, { ...base, kind: 'ddl', operation: 'collection.update', tenantScope: 'refuse' });
      return unknownRoute(request);
    }
    const route = rest.length === 2 ? DATA_ROUTES[rest[1] as string] : undefined;
    if (!route || route.method !== method) return unknownRoute(request);
    const call = byId(target, {
      ...base,
      kind: route.kind,
      operation: route.operation,
      tenantScope: route.tenantScope,
    });
    if (call.collectionId === undefined || method === 'GET') return call;
    if (body === undefined) return { ...call, ...unclassifiable(route.operation, 'the request has no JSON body') };
    return route.operation === 'records.delete' ? classifyDelete(call, body) : call;
  },
  scopeToTenant: scopeChromaToTenant,
  ownershipProbe: chromaOwnershipProbe,
} satisfies ProviderProfile;

/** Until `resolveCollection` names the collection, the call stays unclassifiable, so a missed step fails closed. */
export const UNRESOLVED_COLLECTION = 'the collection id has not been resolved to a name';

function byId(text: string, call: Omit<ProviderCall, 'collectionId'>): ProviderCall {
  const id = canonicalCollectionId(text);
  if (id === undefined) return { ...call, ...unclassifiable(call.operation, 'expected a collection id (UUID)') };
  return { ...call, collectionId: id, unclassifiable: UNRESOLVED_COLLECTION };
}
