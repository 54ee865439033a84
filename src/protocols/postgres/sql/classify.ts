/**
 * SQL -> operation kind + risk tags, by walking the AST of the real PostgreSQL parser (libpg-query, PostgreSQL 18
 * grammar). Nothing here pattern-matches SQL text: strings, comments, dollar quoting and quoted identifiers cannot
 * fool a parse tree. Fail closed: text the parser rejects, and any statement type missing from the tables below, is
 * `unknown`, which policy denies. What a read may call and set is an allow-list (function-safety.ts, sql-settings.ts):
 * anything not known to be harmless makes the statement something other than a read.
 *
 * Cost per message: one parse plus one walk of its tree (PL/pgSQL bodies of DO and CREATE FUNCTION are parsed once
 * more, they are rare). Results are kept in a small LRU keyed by the exact text, because prepared statements and
 * pgbench-style workloads send the same texts over and over; and in one keyed by the text's shape (see "The shape
 * cache" below), because most clients of the simple protocol send a few statements with new constants each time.
 */
import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import { LRUCache } from 'lru-cache';
import { type Operation, type OperationKind, RISK_TAGS, type RiskTag } from '../../../core/operation.js';
import {
  type Ast,
  asAst,
  type ClassifiedStatement,
  type ClassifyOptions,
  type Context,
  mostPrivileged,
  nodeType,
  orderTags,
  type Risks,
  valuesRead,
} from './sql-ast.js';
import { VISITORS } from './sql-functions.js';
import { INLINE_NODES, STATEMENTS } from './sql-statements.js';

export type { ClassifiedStatement, ClassifyOptions } from './sql-ast.js';
export { KIND_RANK, mostPrivileged } from './sql-ast.js';

let loaded: Promise<void> | undefined;

/** Loads the parser's wasm once; every later call returns the same promise (a failed load may be retried). */
export async function loadSqlClassifier(): Promise<void> {
  loaded ??= loadModule().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

const CACHE_LIMIT = 512;
/** Longer texts are classified every time: bulk INSERTs would otherwise pin megabytes in the cache. */
const CACHE_TEXT_LIMIT = 16 * 1024;
const cache = new LRUCache<string, readonly ClassifiedStatement[]>({ max: CACHE_LIMIT });

/** How messages were classified since the process started: from either cache, or parsed (metrics, tests). */
export interface ClassifierCounts {
  readonly exact: number;
  readonly shape: number;
  readonly parsed: number;
}

const counts = { exact: 0, shape: 0, parsed: 0 };

export function classifierCounts(): ClassifierCounts {
  return { ...counts };
}

export function classifySql(sql: string, options: ClassifyOptions = {}): ClassifiedStatement[] {
  // The same text classifies differently under another resource's `readFunctions`: the list is part of the key.
  const listKey = options.readFunctions?.key ?? '';
  const key = listKey === '' ? sql : `${listKey}\0${sql}`;
  const cached = cache.get(key);
  if (cached !== undefined) {
    counts.exact++;
    return [...cached];
  }
  const cacheable = sql.length <= CACHE_TEXT_LIMIT && !sql.includes('\0');
  const normalized = cacheable ? shapeOf(sql) : undefined;
  const shape = normalized === undefined ? undefined : listKey === '' ? normalized : `${listKey}\0${normalized}`;
  if (shape !== undefined) {
    const statement = fromShape(sql, shape);
    if (statement !== undefined) return [statement];
  }
  const readsBefore = valuesRead();
  const result = classifyUncached(sql, options);
  counts.parsed++;
  // EXECUTE depends on what the session has prepared, so such results are not reusable.
  if (cacheable && !result.some((s) => s.executes !== undefined)) {
    cache.set(key, Object.freeze(result.map(freezeStatement)));
    if (shape !== undefined && normalized !== undefined && valuesRead() === readsBefore)
      rememberShape(sql, shape, normalized, result);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The shape cache

/**
 * A statement's classification, kept under its text's shape: the text with every constant replaced by `$n`, as
 * libpg-query's normalize writes it (PostgreSQL's own scanner and grammar find the constants, about a third of the
 * cost of a parse with its tree). `UPDATE t SET x = x + 5 WHERE id = 7` and `... + 9 WHERE id = 8` share the shape
 * `UPDATE t SET x = x + $1 WHERE id = $2`, and their trees differ only in their constants' values. A classification
 * that read no value (`valuesRead`: set_config's setting, EXPLAIN's ANALYZE option, a DO body... are values) is the
 * same for every text of its shape, so it is kept for them; one that read a value is not. One statement per
 * message only, and not PREPARE, EXECUTE or DEALLOCATE (names a session keeps).
 */
interface ShapeEntry {
  /** The classification, its `text` that of the message it was made for. */
  readonly statement: ClassifiedStatement;
  /**
   * What follows the statement's text in the message (`;`, spaces, a comment): it holds no constant, so every text
   * of the shape ends with it.
   */
  readonly after: string;
}

const shapes = new LRUCache<string, ShapeEntry>({ max: CACHE_LIMIT });

/** The text's shape; undefined when it has no constant (the exact cache is enough) or does not parse. */
function shapeOf(sql: string): string | undefined {
  let shape: string;
  try {
    shape = normalizeSync(sql);
  } catch {
    return undefined;
  }
  return shape === sql ? undefined : shape;
}

function fromShape(sql: string, shape: string): ClassifiedStatement | undefined {
  const entry = shapes.get(shape);
  if (entry === undefined || !sql.endsWith(entry.after)) return undefined;
  counts.shape++;
  // As `classifyUncached` cuts it: from the start of the message (the first statement's location) to its end.
  return { ...entry.statement, text: sql.slice(0, sql.length - entry.after.length).trim() };
}

function rememberShape(sql: string, shape: string, normalized: string, result: readonly ClassifiedStatement[]): void {
  if (result.length !== 1) return;
  const statement = result[0] as ClassifiedStatement;
  if (statement.error !== undefined || statement.prepares !== undefined || statement.deallocates !== undefined) return;
  if (statement.deallocatesAll === true) return;
  // The statement's text runs from the message's first non-space character (its location is 0) to `after`.
  const start = sql.length - sql.trimStart().length;
  if (!sql.startsWith(statement.text, start)) return;
  const after = sql.slice(start + statement.text.length);
  // What follows holds no constant: the shape ends with it too, and so does every text of the shape.
  if (!normalized.endsWith(after)) return;
  shapes.set(shape, { statement: freezeStatement({ ...statement }), after });
}

/**
 * One operation for a whole message: as privileged as its most privileged statement, with every statement's tags,
 * and unclassifiable when any statement failed to parse.
 */
export function toOperation(resource: string, statements: readonly ClassifiedStatement[], text: string): Operation {
  let kind: OperationKind = 'session';
  const tags = new Set<RiskTag>();
  let error: string | undefined;
  const notes = new Set<string>();
  for (const statement of statements) {
    kind = mostPrivileged(kind, statement.kind);
    for (const tag of statement.tags) tags.add(tag);
    for (const note of statement.notes ?? []) notes.add(note);
    error ??= statement.error;
  }
  return {
    protocol: 'postgres',
    resource,
    kind,
    tags: orderTags(tags),
    action: statements.length === 0 ? 'EMPTY' : statements.map((s) => s.action).join('; '),
    text,
    ...(notes.size === 0 ? {} : { notes: [...notes] }),
    ...(error === undefined ? {} : { unclassifiable: error }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing and cutting the text into statements

interface RawStmt {
  readonly stmt?: Ast;
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

export function classifyUncached(sql: string, options: ClassifyOptions): ClassifiedStatement[] {
  if (sql.length === 0) return [];
  // The parser reads a C string and would stop at a NUL, classifying only a prefix of what the caller sent.
  if (sql.includes('\0')) return [unparsable(sql, 'the query text contains a NUL byte')];
  let stmts: readonly RawStmt[];
  try {
    stmts = (parseSync(sql) as { stmts?: RawStmt[] }).stmts ?? [];
  } catch (error) {
    return [unparsable(sql, error instanceof Error ? error.message : String(error))];
  }
  const source = new SourceText(sql);
  return stmts.map((raw) => {
    // The parser omits zero-valued fields: no location means 0, no length means "to the end".
    const text = source.cut(raw.stmt_location ?? 0, raw.stmt_len || undefined).trim();
    return classifyStatement(raw.stmt ?? {}, { text, options });
  });
}

function unparsable(text: string, error: string): ClassifiedStatement {
  return { kind: 'unknown', tags: [], action: 'UNPARSABLE', text, error };
}

/** The parser reports UTF-8 byte offsets; JavaScript strings index UTF-16 code units. */
export class SourceText {
  private readonly bytes: Buffer | undefined;
  constructor(private readonly text: string) {
    this.bytes = Buffer.byteLength(text) === text.length ? undefined : Buffer.from(text, 'utf8');
  }
  cut(start: number, length?: number): string {
    const end = length === undefined ? undefined : start + length;
    return this.bytes === undefined ? this.text.slice(start, end) : this.bytes.subarray(start, end).toString('utf8');
  }
}

function classifyStatement(wrapper: Ast, context: Context): ClassifiedStatement {
  const type = nodeType(wrapper);
  const node = type === undefined ? undefined : asAst(wrapper[type]);
  const rule = type === undefined ? undefined : STATEMENTS[type];
  if (type === undefined || node === undefined || rule === undefined) {
    return { kind: 'unknown', tags: [], action: type ?? 'UNKNOWN', text: context.text };
  }
  const finding = typeof rule === 'function' ? rule(node, context) : rule;
  const risks: Risks = {
    tags: new Set(finding.tags),
    floor: 'session',
    callsFunctions: false,
    notes: new Set(finding.notes),
  };
  walk(node, risks, context);
  let kind = finding.kind;
  let tags: Iterable<RiskTag> = risks.tags;
  if (finding.inert) {
    // Planning alone folds calls of functions declared immutable, and a user function may be declared so falsely:
    // an unknown function counts even where the statement does not run.
    tags = [...risks.tags].filter(
      (tag) => RISK_TAGS[tag].dangerous || finding.tags?.includes(tag) || tag === 'unknown-function',
    );
    if (risks.tags.has('unknown-function')) kind = mostPrivileged(kind, 'write');
  } else {
    kind = mostPrivileged(kind, risks.floor);
  }
  const executes = finding.executes ?? risks.executes;
  return {
    kind,
    tags: orderTags(tags),
    action: finding.action,
    text: context.text,
    ...(finding.prepares === undefined ? {} : { prepares: finding.prepares }),
    ...(executes === undefined ? {} : { executes }),
    ...(finding.deallocates === undefined ? {} : { deallocates: finding.deallocates }),
    ...(finding.deallocatesAll ? { deallocatesAll: true } : {}),
    ...(risks.callsFunctions ? { callsFunctions: true } : {}),
    ...(risks.notes.size === 0 ? {} : { notes: [...risks.notes] }),
  };
}

/**
 * Visits every node below `value`. Nested statements (subqueries, CTEs, CREATE SCHEMA elements, PREPARE and EXPLAIN
 * bodies) go through the same statement table, so a DELETE inside a CTE counts as a DELETE; other node types with
 * something to say (function calls, ALTER TABLE subcommands) have visitors.
 */
function walk(value: unknown, risks: Risks, context: Context): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, risks, context);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const ast = value as Ast;
  for (const key of Object.keys(ast)) {
    const child = ast[key];
    if (child === null || typeof child !== 'object') continue;
    const type = INLINE_NODES[key] ?? key;
    const rule = STATEMENTS[type];
    if (rule !== undefined) {
      const finding = typeof rule === 'function' ? rule(child as Ast, context) : rule;
      for (const tag of finding.tags ?? []) risks.tags.add(tag);
      for (const note of finding.notes ?? []) risks.notes.add(note);
      if (!finding.inert) risks.floor = mostPrivileged(risks.floor, finding.kind);
      risks.executes ??= finding.executes;
    }
    VISITORS[type]?.(child as Ast, risks, context);
    walk(child, risks, context);
  }
}

function freezeStatement(statement: ClassifiedStatement): ClassifiedStatement {
  Object.freeze(statement.tags);
  return Object.freeze(statement);
}
