import { isObject, type JsonObject } from './json-body.js';
import {
  type ProviderCall,
  type ProviderProfile,
  type ProviderRequest,
  unclassifiable,
  unknownRoute,
} from './profile.js';
import { pineconeOwnershipProbe } from './record-ownership.js';
import { invalidBody, notTenantScoped } from './tenant-errors.js';

/**
 * Pinecone's data plane (https://docs.pinecone.io/reference/api/data-plane): one index per host, so the index (the
 * collection) comes from the upstream host `{index}-{project}.svc.{environment}.pinecone.io`; for other hosts (a local
 * emulator) the first label is taken as the index. Index names are lower-case and DNS is case-insensitive, so the
 * name is lower-cased.
 */
function pineconeIndex(host: string): string {
  const label = (host.toLowerCase().split('.')[0] ?? '').trim();
  return host.toLowerCase().endsWith('.pinecone.io') ? label.replace(/-[a-z0-9]+$/, '') : label;
}

interface Route {
  readonly operation: string;
  readonly kind: 'read' | 'write' | 'ddl';
  readonly tenantScope: ProviderCall['tenantScope'];
  readonly needsBody: boolean;
}

const ROUTES: Readonly<Record<string, Route>> = Object.assign(Object.create(null), {
  'POST query': { operation: 'vectors.query', kind: 'read', tenantScope: 'filter', needsBody: true },
  'GET vectors/fetch': { operation: 'vectors.fetch', kind: 'read', tenantScope: 'refuse', needsBody: false },
  'GET vectors/list': { operation: 'vectors.list', kind: 'read', tenantScope: 'refuse', needsBody: false },
  'POST vectors/upsert': { operation: 'vectors.upsert', kind: 'write', tenantScope: 'stamp', needsBody: true },
  'POST vectors/update': { operation: 'vectors.update', kind: 'write', tenantScope: 'refuse', needsBody: true },
  'POST vectors/delete': { operation: 'vectors.delete', kind: 'write', tenantScope: 'filter', needsBody: true },
  'POST describe_index_stats': { operation: 'index.stats', kind: 'read', tenantScope: 'none', needsBody: false },
  'GET describe_index_stats': { operation: 'index.stats', kind: 'read', tenantScope: 'none', needsBody: false },
});

function route(request: ProviderRequest): Route | undefined {
  return ROUTES[`${request.method} ${request.segments.join('/')}`];
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

export const pineconeProfile = {
  name: 'pinecone',
  needsBody: (request) => route(request)?.needsBody === true,
  classify(request, body) {
    const collection = pineconeIndex(request.targetHost);
    const found = route(request);
    if (!found) return unknownRoute(request, collection);
    const call: ProviderCall = {
      kind: found.kind,
      operation: found.operation,
      collection,
      metered: false,
      tenantScope: found.tenantScope,
    };
    if (!found.needsBody) return call;
    if (body === undefined) return { ...unclassifiable(found.operation, 'the request has no JSON body'), collection };
    // `ids`, `deleteAll` and `filter` are mutually exclusive upstream; anything but plain ids is a bulk delete.
    if (
      found.operation === 'vectors.delete' &&
      (body.deleteAll === true || present(body.filter) || !Array.isArray(body.ids))
    )
      return { ...call, kind: 'ddl' };
    // An update by metadata filter (instead of one id) is a bulk change.
    if (found.operation === 'vectors.update' && present(body.filter)) return { ...call, kind: 'ddl' };
    return call;
  },
  ownershipProbe: pineconeOwnershipProbe,
  scopeToTenant(call, body, tenant) {
    const condition = { [tenant.field]: { $eq: tenant.value } };
    if (call.tenantScope === 'stamp') {
      if (!Array.isArray(body.vectors)) throw invalidBody('vectors must be an array');
      return {
        ...body,
        vectors: body.vectors.map((vector) => {
          if (!isObject(vector)) throw invalidBody('each vector must be an object');
          const metadata = vector.metadata;
          if (present(metadata) && !isObject(metadata)) throw invalidBody('metadata must be an object');
          return {
            ...vector,
            metadata: { ...((metadata as JsonObject | undefined) ?? {}), [tenant.field]: tenant.value },
          };
        }),
      };
    }
    if (call.tenantScope !== 'filter') throw notTenantScoped(`${call.operation} cannot be confined to one tenant`);
    if (call.operation === 'vectors.delete') {
      // Deleting by ids or everything cannot carry a filter upstream: only deletes by filter are scoped.
      if (body.deleteAll === true || present(body.ids))
        throw notTenantScoped('delete by filter only under a tenant filter');
      if (!present(body.filter)) throw invalidBody('expected ids, deleteAll or filter');
    }
    const filter = body.filter;
    if (present(filter) && !isObject(filter)) throw invalidBody('filter must be a JSON object');
    const empty = !present(filter) || Object.keys(filter as JsonObject).length === 0;
    return { ...body, filter: empty ? condition : { $and: [condition, filter] } };
  },
} satisfies ProviderProfile;
