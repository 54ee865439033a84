import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRequestText, StandInServer, sendJson } from './stand-in-server.js';

/**
 * A small Chroma-style upstream for tests, following the REST shapes of Chroma's OpenAPI document: v2 paths
 * (`/api/v2/tenants/{t}/databases/{d}/collections/...`) and the v1 ones, collections by name (create, get, delete)
 * and records by collection id (add, upsert, get, query, delete, count), with `where` evaluated for real (`$and`,
 * `$or`, `$eq`, `$ne`, `$in`, `$nin`, `$gt(e)`, `$lt(e)`, implicit equality). It records what it received.
 */
type Json = Record<string, unknown>;
type Scalar = string | number | boolean;

interface Row {
  readonly id: string;
  readonly embedding: readonly number[];
  readonly metadata: Record<string, Scalar> | null;
  readonly document: string | null;
}

interface Collection {
  readonly id: string;
  readonly name: string;
  readonly rows: Map<string, Row>;
}

export interface ChromaSeen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

class WhereError extends Error {}

export class ChromaStandIn extends StandInServer {
  readonly seen: ChromaSeen[] = [];
  /** By name. */
  readonly collections = new Map<string, Collection>();

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readRequestText(req);
    const path = (req.url ?? '/').split('?')[0] as string;
    this.seen.push({ method: req.method ?? '', path, body: text });
    let body: Json = {};
    try {
      if (text) body = JSON.parse(text) as Json;
    } catch {
      return reply(res, 422, { error: 'InvalidArgumentError', message: 'invalid JSON' });
    }
    let segments = path.split('/').slice(1).map(decodeURIComponent);
    if (segments[0] !== 'api') return reply(res, 404, { error: 'NotFound' });
    if (segments[1] === 'v2' && segments[2] === 'tenants' && segments[4] === 'databases') segments = segments.slice(6);
    else if (segments[1] === 'v1') segments = segments.slice(2);
    else return reply(res, 404, { error: 'NotFound' });
    try {
      this.route(req.method ?? 'GET', segments, body, res);
    } catch (error) {
      if (error instanceof WhereError)
        return reply(res, 400, { error: 'InvalidArgumentError', message: error.message });
      throw error;
    }
  }

  private route(method: string, segments: string[], body: Json, res: ServerResponse) {
    const [root, target, op] = segments;
    if (root !== 'collections') return reply(res, 404, { error: 'NotFound' });
    if (target === undefined) {
      if (method === 'GET') return reply(res, 200, [...this.collections.values()].map(describe));
      const name = String(body.name);
      const existing = this.collections.get(name);
      if (existing && body.get_or_create !== true) return reply(res, 409, { error: 'UniqueConstraintError' });
      const collection = existing ?? { id: randomUUID(), name, rows: new Map() };
      this.collections.set(name, collection);
      return reply(res, 200, describe(collection));
    }
    if (op === undefined) {
      const named = this.collections.get(target);
      if (!named) return reply(res, 404, { error: 'NotFoundError', message: `Collection [${target}] does not exist` });
      if (method === 'DELETE') {
        this.collections.delete(target);
        return reply(res, 200, {});
      }
      return reply(res, 200, describe(named));
    }
    const collection = [...this.collections.values()].find((c) => c.id === target.toLowerCase());
    if (!collection)
      return reply(res, 404, { error: 'NotFoundError', message: `Collection [${target}] does not exist` });
    const rows = [...collection.rows.values()];
    switch (`${method} ${op}`) {
      case 'POST add':
      case 'POST upsert': {
        const ids = body.ids as string[];
        ids.forEach((id, i) => {
          // `add` ignores ids the collection already holds; `upsert` updates them (Chroma's documented behaviour).
          if (op === 'add' && collection.rows.has(id)) return;
          collection.rows.set(id, {
            id,
            embedding: (body.embeddings as number[][])[i] as number[],
            metadata: ((body.metadatas as Json[] | undefined)?.[i] ?? null) as Row['metadata'],
            document: ((body.documents as string[] | undefined)?.[i] ?? null) as string | null,
          });
        });
        return reply(res, 201, {});
      }
      case 'POST get': {
        const found = select(rows, body).slice(0, Number(body.limit ?? 1e9));
        // `include` picks the fields returned (metadatas and documents by default); the others come back null.
        const include = Array.isArray(body.include) ? (body.include as string[]) : ['metadatas', 'documents'];
        return reply(res, 200, {
          ids: found.map((r) => r.id),
          metadatas: include.includes('metadatas') ? found.map((r) => r.metadata) : null,
          documents: include.includes('documents') ? found.map((r) => r.document) : null,
          include,
        });
      }
      case 'POST query': {
        const candidates = select(rows, body);
        const results = (body.query_embeddings as number[][]).map((q) =>
          candidates
            .map((r) => ({ row: r, distance: distance(r.embedding, q) }))
            .sort((a, b) => a.distance - b.distance)
            .slice(0, Number(body.n_results ?? 10)),
        );
        return reply(res, 200, {
          ids: results.map((list) => list.map((x) => x.row.id)),
          distances: results.map((list) => list.map((x) => x.distance)),
          metadatas: results.map((list) => list.map((x) => x.row.metadata)),
          documents: results.map((list) => list.map((x) => x.row.document)),
          include: ['metadatas', 'documents', 'distances'],
        });
      }
      case 'POST delete': {
        for (const row of select(rows, body)) collection.rows.delete(row.id);
        return reply(res, 200, {});
      }
      case 'GET count':
        return reply(res, 200, collection.rows.size);
      default:
        return reply(res, 404, { error: 'NotFound' });
    }
  }
}

function describe(c: Collection): Json {
  return { id: c.id, name: c.name, metadata: null, tenant: 'default_tenant', database: 'default_database' };
}

/** `ids` and `where` both restrict when both are given. */
function select(rows: Row[], body: Json): Row[] {
  const ids = Array.isArray(body.ids) ? new Set(body.ids as string[]) : undefined;
  return rows.filter((r) => (ids === undefined || ids.has(r.id)) && whereMatches(r.metadata ?? {}, body.where));
}

function distance(a: readonly number[], b: readonly number[]): number {
  return a.reduce((sum, x, i) => sum + (x - (b[i] ?? 0)) ** 2, 0);
}

const COMPARE: Readonly<Record<string, (a: Scalar | undefined, b: unknown) => boolean>> = Object.assign(
  Object.create(null),
  {
    $eq: (a: Scalar | undefined, b: unknown) => a === b,
    $ne: (a: Scalar | undefined, b: unknown) => a !== b,
    $gt: (a: Scalar | undefined, b: unknown) => typeof a === 'number' && a > Number(b),
    $gte: (a: Scalar | undefined, b: unknown) => typeof a === 'number' && a >= Number(b),
    $lt: (a: Scalar | undefined, b: unknown) => typeof a === 'number' && a < Number(b),
    $lte: (a: Scalar | undefined, b: unknown) => typeof a === 'number' && a <= Number(b),
    $in: (a: Scalar | undefined, b: unknown) => Array.isArray(b) && b.includes(a),
    $nin: (a: Scalar | undefined, b: unknown) => Array.isArray(b) && !b.includes(a),
  },
);

function whereMatches(metadata: Record<string, Scalar>, where: unknown): boolean {
  if (where === undefined || where === null) return true;
  if (typeof where !== 'object' || Array.isArray(where)) throw new WhereError('Expected where to be a dict');
  const entries = Object.entries(where as Json);
  return entries.every(([key, value]) => {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length < 2) throw new WhereError(`Expected ${key} to be a list of at least 2`);
      return key === '$and'
        ? value.every((w) => whereMatches(metadata, w))
        : value.some((w) => whereMatches(metadata, w));
    }
    if (key.startsWith('$')) throw new WhereError(`Unknown operator ${key}`);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const ops = Object.entries(value as Json);
      if (ops.length !== 1) throw new WhereError('Expected one operator');
      const [op, operand] = ops[0] as [string, unknown];
      const compare = COMPARE[op];
      if (!compare) throw new WhereError(`Unknown operator ${op}`);
      return compare(metadata[key], operand);
    }
    return metadata[key] === value;
  });
}

const reply = sendJson;
