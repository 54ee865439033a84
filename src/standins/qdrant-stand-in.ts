import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRequestText, StandInServer, sendJson } from './stand-in-server.js';

/**
 * A small Qdrant-style upstream for tests (https://api.qdrant.tech/api-reference): collections, upsert, retrieve by
 * ids (`with_payload` / `with_vector` honoured), get, search,
 * query (with prefetch), scroll, count and delete, with filters evaluated for real over the stored points (`must`,
 * `should`, `must_not`, nested filters, `match` value/any/except, `range`, `has_id`, `is_empty`). Names are
 * case-sensitive, as in Qdrant. It records what it received, so a test can check what the gateway forwarded.
 */
type Json = Record<string, unknown>;
type PointId = string | number;

interface Point {
  readonly id: PointId;
  readonly vector: readonly number[];
  readonly payload: Json;
}

export interface QdrantSeen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

class FilterError extends Error {}

export class QdrantStandIn extends StandInServer {
  readonly seen: QdrantSeen[] = [];
  readonly collections = new Map<string, Map<string, Point>>();

  constructor(private readonly apiKey?: string) {
    super();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readRequestText(req);
    const path = (req.url ?? '/').split('?')[0] as string;
    this.seen.push({ method: req.method ?? '', path, body: text });
    if (this.apiKey !== undefined && req.headers['api-key'] !== this.apiKey)
      return reply(res, 401, { status: { error: 'Unauthorized' } });
    let body: Json = {};
    try {
      if (text) body = JSON.parse(text) as Json;
    } catch {
      return reply(res, 400, { status: { error: 'Json deserialize error' } });
    }
    // actix decodes each path segment once, like this.
    const segments = path.split('/').slice(1).map(decodeURIComponent);
    try {
      this.route(req.method ?? 'GET', segments, body, res);
    } catch (error) {
      if (error instanceof FilterError) return reply(res, 400, { status: { error: error.message } });
      throw error;
    }
  }

  private route(method: string, segments: string[], body: Json, res: ServerResponse) {
    const [root, name, points, ...rest] = segments;
    if (root !== 'collections') return reply(res, 404, { status: { error: 'Not found' } });
    if (name === undefined) {
      const collections = [...this.collections.keys()].map((n) => ({ name: n }));
      return ok(res, { collections });
    }
    const collection = this.collections.get(name);
    if (points === undefined) {
      if (method === 'PUT') {
        if (collection) return reply(res, 409, { status: { error: `Collection \`${name}\` already exists!` } });
        this.collections.set(name, new Map());
        return ok(res, true);
      }
      if (method === 'DELETE') return ok(res, this.collections.delete(name));
      if (method === 'GET' && collection) return ok(res, { status: 'green', points_count: collection.size });
    }
    if (!collection) return reply(res, 404, { status: { error: `Collection \`${name}\` doesn't exist!` } });
    const op = `${method} ${rest.join('/')}`;
    if (points !== 'points') return reply(res, 404, { status: { error: 'Not found' } });
    if (op === 'PUT ') return ok(res, this.upsert(collection, body));
    if (op === 'POST ') {
      // Retrieve by ids (PointRequest): `with_payload` defaults to true, `with_vector` to false.
      if (!Array.isArray(body.ids))
        return reply(res, 400, { status: { error: 'Format error in JSON body: missing field `ids`' } });
      const ids = new Set((body.ids as PointId[]).map(String));
      return ok(
        res,
        [...collection.values()]
          .filter((p) => ids.has(String(p.id)))
          .map((p) => record(p, body.with_payload ?? true, body.with_vector === true)),
      );
    }
    if (op === 'POST search') return ok(res, this.search(collection, body, body.vector as number[]));
    if (op === 'POST query') return ok(res, { points: this.query(collection, body) });
    if (op === 'POST scroll') {
      const found = [...collection.values()].filter((p) => matches(p, body.filter)).slice(0, Number(body.limit ?? 10));
      return ok(res, { points: found.map((p) => view(p)), next_page_offset: null });
    }
    if (op === 'POST count')
      return ok(res, { count: [...collection.values()].filter((p) => matches(p, body.filter)).length });
    if (op === 'POST delete') {
      const doomed = Array.isArray(body.points)
        ? (body.points as PointId[]).map(String)
        : [...collection.values()].filter((p) => matches(p, body.filter ?? {}, true)).map((p) => String(p.id));
      for (const id of doomed) collection.delete(id);
      return ok(res, { operation_id: 1, status: 'completed' });
    }
    return reply(res, 404, { status: { error: 'Not found' } });
  }

  private upsert(collection: Map<string, Point>, body: Json): Json {
    const incoming: Point[] = Array.isArray(body.points)
      ? (body.points as Json[]).map((p) => ({
          id: p.id as PointId,
          vector: p.vector as number[],
          payload: (p.payload ?? {}) as Json,
        }))
      : ((body.batch as Json).ids as PointId[]).map((id, i) => ({
          id,
          vector: ((body.batch as Json).vectors as number[][])[i] as number[],
          payload: (((body.batch as Json).payloads as Json[] | undefined)?.[i] ?? {}) as Json,
        }));
    for (const point of incoming) collection.set(String(point.id), point);
    return { operation_id: 1, status: 'completed' };
  }

  private search(collection: Map<string, Point>, body: Json, vector: number[], from?: Point[]): Json[] {
    return (from ?? [...collection.values()])
      .filter((p) => matches(p, body.filter))
      .map((p) => ({ point: p, score: dot(p.vector, vector) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, Number(body.limit ?? 10))
      .map(({ point, score }) => ({ ...view(point), score }));
  }

  /** Query API: prefetches (each with its own filter) choose candidates; the outer filter and query rank them. */
  private query(collection: Map<string, Point>, body: Json): Json[] {
    const vector = body.query as number[];
    let candidates: Point[] | undefined;
    const prefetch = body.prefetch === undefined ? [] : Array.isArray(body.prefetch) ? body.prefetch : [body.prefetch];
    if (prefetch.length > 0) {
      const ids = new Set(
        prefetch.flatMap((p) =>
          this.query(collection, { ...(p as Json), query: (p as Json).query ?? vector }).map((r) => String(r.id)),
        ),
      );
      candidates = [...collection.values()].filter((p) => ids.has(String(p.id)));
    }
    return this.search(collection, body, vector, candidates);
  }
}

/** A Record as retrieve returns it: the payload selected by `with_payload` (bool, keys, include/exclude). */
function record(point: Point, withPayload: unknown, withVector: boolean): Json {
  const out: Json = { id: point.id };
  if (withPayload === true) out.payload = point.payload;
  else if (Array.isArray(withPayload)) out.payload = pick(point.payload, withPayload.map(String), true);
  else if (withPayload !== null && typeof withPayload === 'object') {
    const selector = withPayload as { include?: unknown; exclude?: unknown };
    if (Array.isArray(selector.include)) out.payload = pick(point.payload, selector.include.map(String), true);
    else if (Array.isArray(selector.exclude)) out.payload = pick(point.payload, selector.exclude.map(String), false);
  }
  if (withVector) out.vector = point.vector;
  return out;
}

/** Top-level payload keys named (or not named) by `keys`; a dotted key selects its first segment. */
function pick(payload: Json, keys: readonly string[], include: boolean): Json {
  const named = new Set(keys.map((key) => key.split('.')[0] as string));
  return Object.fromEntries(Object.entries(payload).filter(([key]) => named.has(key) === include));
}

function view(point: Point): Json {
  return { id: point.id, version: 1, payload: point.payload };
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((sum, x, i) => sum + x * (b[i] ?? 0), 0);
}

function field(payload: Json, key: string): unknown {
  let node: unknown = payload;
  for (const part of key.split('.'))
    node = node !== null && typeof node === 'object' ? (node as Json)[part] : undefined;
  return node;
}

function list(value: unknown): unknown[] {
  return value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
}

/** Qdrant filter semantics over one point. `required` refuses an empty filter (a delete must select something). */
function matches(point: Point, filter: unknown, required = false): boolean {
  if (filter === undefined || filter === null) {
    if (required) throw new FilterError('a filter is required');
    return true;
  }
  if (typeof filter !== 'object' || Array.isArray(filter)) throw new FilterError('Format error in JSON body: filter');
  const f = filter as Json;
  const must = list(f.must).every((c) => condition(point, c));
  const shouldList = list(f.should);
  const should = shouldList.length === 0 || shouldList.some((c) => condition(point, c));
  const mustNot = list(f.must_not).every((c) => !condition(point, c));
  return must && should && mustNot;
}

function condition(point: Point, c: unknown): boolean {
  if (c === null || typeof c !== 'object' || Array.isArray(c))
    throw new FilterError('Format error in JSON body: condition');
  const cond = c as Json;
  if ('must' in cond || 'should' in cond || 'must_not' in cond) return matches(point, cond);
  if ('has_id' in cond) return list(cond.has_id).map(String).includes(String(point.id));
  if ('is_empty' in cond) return list(field(point.payload, String((cond.is_empty as Json).key))).length === 0;
  if (typeof cond.key !== 'string') throw new FilterError('Format error in JSON body: unknown condition');
  const value = field(point.payload, cond.key);
  const values = list(value);
  if (cond.match !== undefined) {
    const m = cond.match as Json;
    if ('value' in m) return values.some((v) => v === m.value);
    if ('any' in m) return values.some((v) => (m.any as unknown[]).includes(v));
    if ('except' in m) return !values.some((v) => (m.except as unknown[]).includes(v));
    throw new FilterError('Format error in JSON body: match');
  }
  if (cond.range !== undefined) {
    const r = cond.range as Record<string, number | undefined>;
    return values.some(
      (v) =>
        typeof v === 'number' &&
        (r.gt === undefined || v > r.gt) &&
        (r.gte === undefined || v >= r.gte) &&
        (r.lt === undefined || v < r.lt) &&
        (r.lte === undefined || v <= r.lte),
    );
  }
  throw new FilterError('Format error in JSON body: unknown condition');
}

function ok(res: ServerResponse, result: unknown): void {
  reply(res, 200, { result, status: 'ok', time: 0.0001 });
}

const reply = sendJson;
