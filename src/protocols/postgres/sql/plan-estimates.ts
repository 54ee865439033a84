import { LRUCache } from 'lru-cache';
import type { OperationEstimates } from '../../../core/operation.js';
import type { ClassifiedStatement } from './classify.js';

/**
 * Statements EXPLAIN (without ANALYZE) plans without running anything: the allow-list of what is estimated for
 * `maxCost` / `maxRows`. Everything else (utility statements, PREPARE/EXECUTE, unparsable text) is judged by kind.
 */
const EXPLAINABLE: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** How long, and for how many statement texts, a plan's estimates are reused (outside transaction blocks only). */
const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 1_000;

const cache = new LRUCache<string, OperationEstimates>({ max: CACHE_MAX, ttl: CACHE_TTL_MS });

/** The texts to EXPLAIN, one per statement; undefined when any statement of the message cannot be explained. */
export function explainableTexts(statements: readonly ClassifiedStatement[]): string[] | undefined {
  if (statements.length === 0) return undefined;
  const texts: string[] = [];
  for (const statement of statements) {
    if (statement.error !== undefined || statement.prepares !== undefined || statement.executes !== undefined)
      return undefined;
    if (!EXPLAINABLE.has(statement.action)) return undefined;
    texts.push(statement.text);
  }
  return texts;
}

/**
 * One EXPLAIN (FORMAT JSON) per statement, in one simple Query. Each statement is cut from the client's message by
 * the parser, so it is exactly one statement; the newline ends a trailing `--` comment before the separator.
 */
export function explainSql(texts: readonly string[]): string {
  return texts.map((text) => `EXPLAIN (FORMAT JSON) ${text}\n;`).join('\n');
}

export function cachedEstimates(resource: string, sql: string): OperationEstimates | undefined {
  return cache.get(`${resource}\u0000${sql}`);
}

export function cacheEstimates(resource: string, sql: string, estimates: OperationEstimates): void {
  cache.set(`${resource}\u0000${sql}`, estimates);
}

interface PlanNode {
  readonly 'Node Type'?: unknown;
  readonly 'Total Cost'?: unknown;
  readonly 'Plan Rows'?: unknown;
  readonly Plans?: unknown;
}

/**
 * The figures of a message's plans (one JSON document per statement): costs are added up, and so are rows, where a
 * data-modifying statement counts the rows its ModifyTable nodes are fed (the rows it would change, in data-modifying
 * CTEs too) rather than the rows it returns. Undefined when a plan is not what EXPLAIN gives.
 */
export function estimatesFromPlans(documents: readonly string[]): OperationEstimates | undefined {
  let cost = 0;
  let rows = 0;
  for (const document of documents) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(document);
    } catch {
      return undefined;
    }
    const top = Array.isArray(parsed) ? (parsed[0] as { Plan?: PlanNode } | undefined)?.Plan : undefined;
    if (top === undefined || typeof top !== 'object' || top === null) return undefined;
    const topCost = numberOf(top['Total Cost']);
    const topRows = numberOf(top['Plan Rows']);
    if (topCost === undefined || topRows === undefined) return undefined;
    const affected = modifiedRows(top);
    cost += topCost;
    rows += affected === undefined ? topRows : Math.max(affected, top['Node Type'] === 'ModifyTable' ? 0 : topRows);
  }
  return { cost, rows };
}

/** Rows fed to every ModifyTable in the tree; undefined when there is none. */
function modifiedRows(node: PlanNode): number | undefined {
  const children = Array.isArray(node.Plans) ? (node.Plans as PlanNode[]) : [];
  let total: number | undefined;
  if (node['Node Type'] === 'ModifyTable') total = numberOf(children[0]?.['Plan Rows']) ?? 0;
  for (const child of children) {
    const below = modifiedRows(child);
    if (below !== undefined) total = (total ?? 0) + below;
  }
  return total;
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
