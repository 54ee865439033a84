import type { KnownOperationKind } from '../../../core/operation.js';
import { isObject, type JsonObject } from './json-body.js';
import {
  type ProviderCall,
  type ProviderProfile,
  type ProviderRequest,
  type TenantScope,
  unclassifiable,
  unknownRoute,
} from './profile.js';
import { qdrantOwnershipProbe } from './qdrant-ownership.js';
import { scopeQdrantToTenant } from './qdrant-tenant.js';

/**
 * Qdrant's REST API (https://api.qdrant.tech/api-reference). Collections are addressed by name in the path; Qdrant
 * keeps names case-sensitive (they are directory names on disk) and actix decodes the path once, which is exactly
 * what request-path.ts does, so `%64ocs` is `docs` and `Docs` is another collection.
 */
interface PointsRoute {
  readonly method: string;
  readonly kind: KnownOperationKind;
  readonly operation: string;
  readonly tenantScope: TenantScope;
  readonly needsBody?: boolean;
}

const READ_FILTERED = (operation: string): PointsRoute => ({
  method: 'POST',
  kind: 'read',
  operation,
  tenantScope: 'filter',
  needsBody: true,
});

/** Routes below `/collections/{name}/points`, keyed by `METHOD rest/of/path`. */
const POINTS_ROUTES: Readonly<Record<string, PointsRoute>> = Object.assign(Object.create(null), {
  'PUT ': { method: 'PUT', kind: 'write', operation: 'points.upsert', tenantScope: 'stamp', needsBody: true },
  'POST ': { method: 'POST', kind: 'read', operation: 'points.get', tenantScope: 'refuse' },
  'GET *': { method: 'GET', kind: 'read', operation: 'points.get', tenantScope: 'refuse' },
  'POST delete': { method: 'POST', kind: 'write', operation: 'points.delete', tenantScope: 'filter', needsBody: true },
  'POST search': READ_FILTERED('points.search'),
  'POST search/batch': READ_FILTERED('points.search.batch'),
  'POST search/groups': READ_FILTERED('points.search'),
  'POST search/matrix/pairs': READ_FILTERED('points.search'),
  'POST search/matrix/offsets': READ_FILTERED('points.search'),
  'POST query': READ_FILTERED('points.query'),
  'POST query/batch': READ_FILTERED('points.query.batch'),
  'POST query/groups': READ_FILTERED('points.query'),
  'POST scroll': READ_FILTERED('points.scroll'),
  'POST recommend': READ_FILTERED('points.recommend'),
  'POST recommend/batch': READ_FILTERED('points.recommend.batch'),
  'POST recommend/groups': READ_FILTERED('points.recommend'),
  'POST discover': READ_FILTERED('points.discover'),
  'POST discover/batch': READ_FILTERED('points.discover.batch'),
  'POST count': READ_FILTERED('points.count'),
  'POST payload': { method: 'POST', kind: 'write', operation: 'payload.set', tenantScope: 'filter', needsBody: true },
  'PUT payload': {
    method: 'PUT',
    kind: 'write',
    operation: 'payload.overwrite',
    tenantScope: 'filter',
    needsBody: true,
  },
  'POST payload/delete': {
    method: 'POST',
    kind: 'write',
    operation: 'payload.delete',
    tenantScope: 'filter',
    needsBody: true,
  },
  'POST payload/clear': { method: 'POST', kind: 'write', operation: 'payload.clear', tenantScope: 'refuse' },
  'PUT vectors': { method: 'PUT', kind: 'write', operation: 'vectors.update', tenantScope: 'refuse' },
  'POST vectors/delete': { method: 'POST', kind: 'write', operation: 'vectors.delete', tenantScope: 'refuse' },
  'POST batch': { method: 'POST', kind: 'write', operation: 'points.batch', tenantScope: 'refuse', needsBody: true },
});

/** Collection-level routes: `/collections/{name}` and its schema. */
const COLLECTION_ROUTES: Readonly<Record<string, PointsRoute>> = Object.assign(Object.create(null), {
  'GET ': { method: 'GET', kind: 'read', operation: 'collection.info', tenantScope: 'none' },
  'GET exists': { method: 'GET', kind: 'read', operation: 'collection.info', tenantScope: 'none' },
  'PUT ': { method: 'PUT', kind: 'ddl', operation: 'collection.create', tenantScope: 'none' },
  'PATCH ': { method: 'PATCH', kind: 'ddl', operation: 'collection.update', tenantScope: 'refuse' },
  'DELETE ': { method: 'DELETE', kind: 'ddl', operation: 'collection.delete', tenantScope: 'refuse' },
  'PUT index': { method: 'PUT', kind: 'ddl', operation: 'index.create', tenantScope: 'none' },
  'DELETE index/*': { method: 'DELETE', kind: 'ddl', operation: 'index.delete', tenantScope: 'refuse' },
  'POST facet': READ_FILTERED('points.facet'),
});

interface Matched {
  readonly collection: string;
  readonly route: PointsRoute | undefined;
}

function match(request: ProviderRequest): Matched | undefined {
  const [root, name, ...rest] = request.segments;
  if (root !== 'collections' || name === undefined || (name === 'aliases' && rest.length === 0)) return undefined;
  if (rest[0] === 'points') {
    const tail = rest.slice(1);
    const exact = POINTS_ROUTES[`${request.method} ${tail.join('/')}`];
    const byId = tail.length === 1 ? POINTS_ROUTES[`${request.method} *`] : undefined;
    return { collection: name, route: exact ?? byId };
  }
  const key = `${request.method} ${rest.join('/')}`;
  const indexDelete =
    rest.length === 2 && rest[0] === 'index' ? COLLECTION_ROUTES[`${request.method} index/*`] : undefined;
  return { collection: name, route: COLLECTION_ROUTES[key] ?? indexDelete };
}

/** `lookup_from` / `with_lookup` read another collection, which policy on this one cannot see: refused. */
function namesOtherCollection(value: unknown, collection: string, depth = 0): boolean {
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => namesOtherCollection(v, collection, depth + 1));
  for (const [key, child] of Object.entries(value)) {
    if (key === 'lookup_from' && !(isObject(child) && child.collection === collection)) return true;
    if (key === 'with_lookup' && !(child === collection || (isObject(child) && child.collection === collection)))
      return true;
    if (namesOtherCollection(child, collection, depth + 1)) return true;
  }
  return false;
}

function classifyPoints(route: PointsRoute, collection: string, body: JsonObject | undefined): ProviderCall {
  const call = {
    kind: route.kind,
    operation: route.operation,
    collection,
    metered: false,
    tenantScope: route.tenantScope,
  };
  if (route.needsBody && body === undefined)
    return { ...unclassifiable(route.operation, 'the request has no JSON body'), collection };
  if (body && namesOtherCollection(body, collection))
    return { ...unclassifiable(route.operation, 'lookup_from another collection is not supported'), collection };
  if (route.operation === 'points.delete') {
    // PointsSelector is either `{points: [...]}` or `{filter: {...}}`; anything carrying a filter is a bulk delete.
    if ('filter' in (body as JsonObject)) return { ...call, kind: 'ddl' };
    if (!Array.isArray((body as JsonObject).points))
      return { ...unclassifiable(route.operation, 'expected points or filter'), collection };
  }
  if (route.operation === 'points.batch') {
    const operations = (body as JsonObject).operations;
    if (!Array.isArray(operations)) return { ...unclassifiable(route.operation, 'expected operations'), collection };
    const bulk = operations.some(
      (op) => isObject(op) && Object.values(op).some((inner) => isObject(inner) && 'filter' in inner),
    );
    return { ...call, kind: bulk ? 'ddl' : 'write' };
  }
  return call;
}

export const qdrantProfile = {
  name: 'qdrant',
  needsBody: (request) => match(request)?.route?.needsBody === true,
  classify(request, body) {
    const [root, second] = request.segments;
    if (root === 'collections' && second === 'aliases' && request.segments.length === 2) {
      // Alias changes re-point names at other collections: an admin operation, not ddl on one collection.
      return request.method === 'GET'
        ? { kind: 'read', operation: 'aliases.list', metered: false, tenantScope: 'none' }
        : { kind: 'admin', operation: 'aliases.update', metered: false, tenantScope: 'refuse' };
    }
    if (root === 'collections' && request.segments.length === 1) {
      return request.method === 'GET'
        ? { kind: 'read', operation: 'collections.list', metered: false, tenantScope: 'none' }
        : unknownRoute(request);
    }
    const matched = match(request);
    if (!matched) return unknownRoute(request);
    if (!matched.route) return unknownRoute(request, matched.collection);
    return classifyPoints(matched.route, matched.collection, body);
  },
  scopeToTenant: scopeQdrantToTenant,
  ownershipProbe: qdrantOwnershipProbe,
} satisfies ProviderProfile;
