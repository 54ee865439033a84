import type { Clock } from '../../../core/clock.js';
import { systemClock } from '../../../core/clock.js';
import { UNRESOLVED_COLLECTION } from './chroma.js';
import { isObject } from './json-body.js';
import type { ProviderCall, ProviderRequest } from './profile.js';
import { unclassifiable } from './profile.js';

/** Resolves collection ids (Chroma's data calls) to the names policy rules speak of. */
export interface CollectionDirectory {
  nameOf(id: string, request: ProviderRequest): Promise<string | undefined>;
}

export interface ChromaDirectoryOptions {
  /** The resource's target URL. */
  readonly baseUrl: string;
  /** The resource's credential header, so the listing is the gateway's, not the caller's. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long a listing is trusted; an unknown id refreshes it at once (rate-limited by `minRefreshMs`). */
  readonly ttlMs?: number;
  readonly minRefreshMs?: number;
  readonly timeoutMs?: number;
  readonly clock?: Clock;
}

interface Listing {
  readonly names: ReadonlyMap<string, string>;
  readonly at: number;
}

const PAGE = 100;
const MAX_PAGES = 100;

/**
 * Lists the upstream's collections (`GET .../collections`, paged) and caches id -> name per tenant and database.
 * An id the listing does not hold yields undefined, and the call is denied as unclassifiable (fail closed).
 */
export class ChromaCollectionDirectory implements CollectionDirectory {
  private readonly listings = new Map<string, Listing>();
  private readonly pending = new Map<string, Promise<Listing>>();
  private readonly clock: Clock;

  constructor(private readonly options: ChromaDirectoryOptions) {
    this.clock = options.clock ?? systemClock;
  }

  async nameOf(id: string, request: ProviderRequest): Promise<string | undefined> {
    const scope = listingPath(request);
    let listing = this.listings.get(scope);
    const now = this.clock.now();
    const stale = !listing || now - listing.at > (this.options.ttlMs ?? 60_000);
    const missing =
      listing !== undefined && !listing.names.has(id) && now - listing.at > (this.options.minRefreshMs ?? 1_000);
    if (stale || missing) listing = await this.refresh(scope);
    return listing?.names.get(id);
  }

  private refresh(scope: string): Promise<Listing> {
    let pending = this.pending.get(scope);
    if (!pending) {
      pending = this.list(scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    return pending;
  }

  private async list(path: string): Promise<Listing> {
    const names = new Map<string, string>();
    const base = this.options.baseUrl.replace(/\/+$/, '');
    for (let page = 0; page < MAX_PAGES; page++) {
      const response = await fetch(`${base}${path}?limit=${PAGE}&offset=${page * PAGE}`, {
        headers: { ...this.options.headers, accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
      if (!response.ok) throw new Error(`collection listing answered ${response.status}`);
      const items: unknown = await response.json();
      if (!Array.isArray(items)) throw new Error('collection listing is not an array');
      for (const item of items) {
        if (isObject(item) && typeof item.id === 'string' && typeof item.name === 'string')
          names.set(item.id.toLowerCase(), item.name);
      }
      if (items.length < PAGE) break;
    }
    const listing = { names, at: this.clock.now() };
    this.listings.set(path, listing);
    return listing;
  }
}

/** v2 lists per tenant and database (from the request's path); v1 lists the default ones. */
function listingPath(request: ProviderRequest): string {
  const [, version, , tenant, , database] = request.segments;
  if (version === 'v2' && tenant !== undefined && database !== undefined)
    return `/api/v2/tenants/${encodeURIComponent(tenant)}/databases/${encodeURIComponent(database)}/collections`;
  return '/api/v1/collections';
}

/** Fills in `collection` for calls that name a collection id; an unknown id makes the call unclassifiable. */
export async function resolveCollection(
  call: ProviderCall,
  request: ProviderRequest,
  directory: CollectionDirectory | undefined,
): Promise<ProviderCall> {
  if (call.collectionId === undefined || call.collection !== undefined) return call;
  // Only the pending-resolution marker is lifted; a call unclassifiable for another reason stays so.
  if (call.unclassifiable !== UNRESOLVED_COLLECTION) return call;
  let name: string | undefined;
  try {
    name = await directory?.nameOf(call.collectionId, request);
  } catch {
    name = undefined;
  }
  if (name === undefined)
    return {
      ...call,
      ...unclassifiable(call.operation, 'the collection id is not known to the upstream'),
      kind: 'unknown',
    };
  const { unclassifiable: _pending, ...resolved } = call;
  return { ...resolved, collection: name };
}
