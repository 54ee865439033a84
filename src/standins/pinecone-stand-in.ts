import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRequestText, StandInServer, sendJson } from './stand-in-server.js';

/**
 * A small Pinecone-style index for tests, following the data plane's documented shapes
 * (https://docs.pinecone.io/reference/api/data-plane): `POST /vectors/upsert`, `GET /vectors/fetch`,
 * `POST /query`, `POST /vectors/delete` (by `ids`, `deleteAll` or `filter`, per namespace) and
 * `POST /describe_index_stats` (with a metadata `filter`, counting only matching vectors, as pod-based indexes do;
 * a serverless stand-in refuses the filter, as serverless indexes do). Metadata filters are evaluated for real
 * (`$eq`, `$ne`, `$gt(e)`, `$lt(e)`, `$in`, `$nin`, `$exists`, `$and`, `$or`, implicit equality). The default
 * namespace is `""`. Requests need the `Api-Key` header when one is set. It records what it received.
 */
type Json = Record<string, unknown>;
type Metadata = Record<string, unknown>;

interface Vector {
  readonly id: string;
  readonly values: readonly number[];
  readonly metadata: Metadata;
}

export interface PineconeSeen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

class FilterError extends Error {}

export class PineconeStandIn extends StandInServer {
  readonly seen: PineconeSeen[] = [];
  /** Vectors by namespace, then id. */
  readonly namespaces = new Map<string, Map<string, Vector>>();

  constructor(private readonly options: { readonly apiKey?: string; readonly serverless?: boolean } = {}) {
    super();
  }

  /** Vectors of `namespace` whose metadata matches `filter` (all when none). */
  count(namespace = '', filter?: Json): number {
    return [...(this.namespaces.get(namespace)?.values() ?? [])].filter((v) => matches(v.metadata, filter)).length;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse) {
    const text = await readRequestText(req);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    this.seen.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, body: text });
    if (this.options.apiKey !== undefined && req.headers['api-key'] !== this.options.apiKey)
      return sendJson(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'Invalid API Key' } });
    let body: Json = {};
    try {
      if (text) body = JSON.parse(text) as Json;
    } catch {
      return invalid(res, 'invalid JSON');
    }
    try {
      this.route(`${req.method} ${url.pathname}`, url.searchParams, body, res);
    } catch (error) {
      if (error instanceof FilterError) return invalid(res, error.message);
      throw error;
    }
  }

  private route(route: string, query: URLSearchParams, body: Json, res: ServerResponse) {
    const namespace = typeof body.namespace === 'string' ? body.namespace : (query.get('namespace') ?? '');
    const vectors = this.namespaces.get(namespace) ?? new Map<string, Vector>();
    switch (route) {
      case 'POST /vectors/upsert': {
        if (!Array.isArray(body.vectors)) return invalid(res, 'vectors must be an array');
        for (const v of body.vectors as Json[])
          vectors.set(String(v.id), {
            id: String(v.id),
            values: (v.values as number[]) ?? [],
            metadata: (v.metadata as Metadata) ?? {},
          });
        this.namespaces.set(namespace, vectors);
        return sendJson(res, 200, { upsertedCount: body.vectors.length });
      }
      case 'GET /vectors/fetch': {
        const found = query.getAll('ids').flatMap((id) => {
          const v = vectors.get(id);
          return v === undefined ? [] : [[id, v] as const];
        });
        return sendJson(res, 200, { vectors: Object.fromEntries(found), namespace });
      }
      case 'POST /query': {
        const topK = Number(body.topK ?? 10);
        const matches = [...vectors.values()]
          .filter((v) => matchesFilter(v.metadata, body.filter))
          .slice(0, topK)
          .map((v) => ({ id: v.id, score: 1, ...(body.includeMetadata === true ? { metadata: v.metadata } : {}) }));
        return sendJson(res, 200, { matches, namespace });
      }
      case 'POST /vectors/delete': {
        const modes = [body.ids !== undefined, body.deleteAll === true, body.filter !== undefined].filter(Boolean);
        if (modes.length !== 1) return invalid(res, 'exactly one of ids, deleteAll and filter is required');
        if (body.deleteAll === true) vectors.clear();
        else if (Array.isArray(body.ids)) for (const id of body.ids) vectors.delete(String(id));
        else for (const v of [...vectors.values()]) if (matchesFilter(v.metadata, body.filter)) vectors.delete(v.id);
        return sendJson(res, 200, {});
      }
      case 'POST /describe_index_stats':
      case 'GET /describe_index_stats': {
        if (body.filter !== undefined && this.options.serverless === true)
          return invalid(
            res,
            'Serverless and starter indexes do not support describing index stats with metadata filtering.',
          );
        const counts = [...this.namespaces].map(
          ([name, all]) =>
            [name, [...all.values()].filter((v) => matchesFilter(v.metadata, body.filter)).length] as const,
        );
        return sendJson(res, 200, {
          namespaces: Object.fromEntries(
            counts.filter(([, n]) => n > 0).map(([name, n]) => [name, { vectorCount: n }]),
          ),
          dimension: 3,
          indexFullness: 0,
          totalVectorCount: counts.reduce((sum, [, n]) => sum + n, 0),
        });
      }
      default:
        return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Not Found' } });
    }
  }
}

function invalid(res: ServerResponse, message: string): void {
  sendJson(res, 400, { error: { code: 'INVALID_ARGUMENT', message } });
}

function matchesFilter(metadata: Metadata, filter: unknown): boolean {
  return filter === undefined || matches(metadata, filter as Json);
}

const COMPARE: Readonly<Record<string, (a: unknown, b: unknown) => boolean>> = Object.assign(Object.create(null), {
  $eq: (a: unknown, b: unknown) => a === b,
  $ne: (a: unknown, b: unknown) => a !== b,
  $gt: (a: unknown, b: unknown) => typeof a === 'number' && a > Number(b),
  $gte: (a: unknown, b: unknown) => typeof a === 'number' && a >= Number(b),
  $lt: (a: unknown, b: unknown) => typeof a === 'number' && a < Number(b),
  $lte: (a: unknown, b: unknown) => typeof a === 'number' && a <= Number(b),
  $in: (a: unknown, b: unknown) => Array.isArray(b) && b.includes(a),
  $nin: (a: unknown, b: unknown) => Array.isArray(b) && !b.includes(a),
  $exists: (a: unknown, b: unknown) => (a !== undefined) === (b === true),
});

function matches(metadata: Metadata, filter: Json | undefined): boolean {
  if (filter === undefined) return true;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter))
    throw new FilterError('filter must be an object');
  return Object.entries(filter).every(([key, value]) => {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value)) throw new FilterError(`${key} must be an array`);
      const parts = value as Json[];
      return key === '$and' ? parts.every((f) => matches(metadata, f)) : parts.some((f) => matches(metadata, f));
    }
    if (key.startsWith('$')) throw new FilterError(`unknown operator ${key}`);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.entries(value as Json).every(([op, operand]) => {
        const compare = COMPARE[op];
        if (compare === undefined) throw new FilterError(`unknown operator ${op}`);
        return compare(metadata[key], operand);
      });
    }
    return metadata[key] === value;
  });
}
