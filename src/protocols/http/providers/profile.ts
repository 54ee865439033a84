import type { ProfileName } from '../../../config/protocol-options.js';
import type { OperationKind } from '../../../core/operation.js';

/** A parsed JSON request body: always an object (arrays and scalars are refused before a profile sees them). */
export type JsonObject = Record<string, unknown>;

/** What a profile sees of one request: nothing protocol-specific beyond method, path and (when needed) the body. */
export interface ProviderRequest {
  /** Upper-case method. */
  readonly method: string;
  /** Percent-decoded path segments below the resource's prefix (see request-path.ts). */
  readonly segments: readonly string[];
  /** The query string, for the few calls that carry their arguments there (Pinecone fetch). */
  readonly query: URLSearchParams;
  /** Host name of the resource's upstream (Pinecone names its index there). */
  readonly targetHost: string;
}

/**
 * How a tenant filter applies to a call:
 * - `filter`: the body carries a filter/where the profile rewrites (search, query, scroll, count, delete by filter);
 * - `stamp`: a write of new records; the profile sets the tenant field on each record;
 * - `none`: the call touches no tenant records (collection info, listing, health);
 * - `refuse`: the call addresses records by id in a way that cannot carry a filter, so a tenant-filtered resource
 *   refuses it (fail closed).
 */
export type TenantScope = 'filter' | 'stamp' | 'none' | 'refuse';

/** What one request does, in the terms policy, quotas and audit use. */
export interface ProviderCall {
  readonly kind: OperationKind;
  /** The API operation, e.g. `chat.completions`, `points.search`, `collection.delete`. */
  readonly operation: string;
  /** Collection (index) name, normalised as the upstream resolves it. */
  readonly collection?: string;
  /** Chroma addresses data calls by collection id; `collection-directory.ts` resolves it to the name. */
  readonly collectionId?: string;
  readonly model?: string;
  readonly stream?: boolean;
  /** Requested output ceiling (`max_tokens`, `max_completion_tokens`, `max_output_tokens`). */
  readonly maxOutputTokens?: number;
  /** Rough prompt size, for reservations; settled later to what the upstream reports. */
  readonly promptTokens?: number;
  /** Inference calls whose tokens count against quotas. */
  readonly metered: boolean;
  readonly tenantScope: TenantScope;
  /** Set when the request cannot be understood; policy denies such operations. */
  readonly unclassifiable?: string;
}

/** The caller's tenant, for the filter rewrite: payload/metadata `field` must equal `value`. */
export interface TenantConstraint {
  readonly field: string;
  readonly value: string | number;
}

export interface ProviderProfile {
  readonly name: ProfileName;
  /** Whether `classify` needs the JSON body: the listener buffers it (bounded) only then. */
  needsBody(request: ProviderRequest): boolean;
  classify(request: ProviderRequest, body: JsonObject | undefined): ProviderCall;
  /**
   * Vector stores: returns a new body that only reaches `tenant`'s records whatever the caller sent. Pure; throws a
   * GatehouseError (`request.invalid` or `policy.denied`) when the body cannot be constrained.
   */
  scopeToTenant?(call: ProviderCall, body: JsonObject, tenant: TenantConstraint): JsonObject;
  /**
   * Vector stores: a write that stamps records by id (upsert) would overwrite, and move into the caller's tenant, a
   * record of another tenant with the same id. The probe is a read by those ids the gateway makes first, with the
   * resource's credential (see tenant-ownership.ts); undefined when the call writes no ids.
   */
  ownershipProbe?(
    call: ProviderCall,
    body: JsonObject,
    tenant: TenantConstraint,
    request: ProviderRequest,
  ): OwnershipProbe | undefined;
}

/** A read by id that tells whether any of the ids a write names exists under another tenant. */
export interface OwnershipProbe {
  readonly method: string;
  /** Path and query below the resource's target, encoded. */
  readonly path: string;
  readonly body?: JsonObject;
  /** From the upstream's JSON answer: the ids that exist and are not the caller's tenant's. */
  foreign(answer: unknown): readonly string[];
}

/** Method defaults for routes a vector-store profile does not know: reads stay reads, anything else is admin. */
export function unknownRoute(request: ProviderRequest, collection?: string): ProviderCall {
  const read = request.method === 'GET' || request.method === 'HEAD';
  return {
    kind: read ? 'read' : 'admin',
    operation: read ? 'other.read' : 'other',
    ...(collection === undefined ? {} : { collection }),
    metered: false,
    tenantScope: read ? 'none' : 'refuse',
  };
}

export function unclassifiable(operation: string, reason: string): ProviderCall {
  return { kind: 'unknown', operation, metered: false, tenantScope: 'refuse', unclassifiable: reason };
}
