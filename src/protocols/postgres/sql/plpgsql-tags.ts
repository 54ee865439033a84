/** Risk tags of PL/pgSQL bodies (DO blocks, plpgsql functions) and of SQL embedded in them.
 * Imports the classifier back (for SQL inside bodies): a cycle used only at call time, never at load. */
import { parsePlPgSQLSync, scanSync } from 'libpg-query';
import type { RiskTag } from '../../../core/operation.js';
import { classifyUncached, SourceText } from './classify.js';
import { type Ast, asAst, readsValue } from './sql-ast.js';

// ---------------------------------------------------------------------------------------------------------------
// PL/pgSQL bodies (DO blocks and plpgsql functions)

/**
 * Tags of a PL/pgSQL body: dynamic-sql for any EXECUTE form, plus the tags of every embedded SQL statement and
 * expression. A body the PL/pgSQL parser rejects cannot be inspected, so it counts as dynamic-sql (fail closed).
 */
export function plpgsqlTags(statementText: string, notes?: Set<string>): RiskTag[] {
  // The body is a string constant of the statement.
  readsValue();
  let tree: unknown;
  try {
    tree = parsePlPgSQLSync(statementText);
  } catch {
    return ['dynamic-sql'];
  }
  const tags = new Set<RiskTag>();
  walkPlpgsql(tree, tags, notes);
  return [...tags];
}

/** EXECUTE, FOR ... IN EXECUTE, OPEN ... FOR EXECUTE, RETURN QUERY EXECUTE. */
const DYNAMIC_PLPGSQL = new Set(['PLpgSQL_stmt_dynexecute', 'PLpgSQL_stmt_dynfors']);

/** PL/pgSQL expression parse modes (PostgreSQL's RawParseMode). */
const PARSE_MODE = { statement: 0, expression: 2, assignFirst: 3, assignLast: 5 } as const;

function walkPlpgsql(value: unknown, tags: Set<RiskTag>, notes: Set<string> | undefined): void {
  if (Array.isArray(value)) {
    for (const item of value) walkPlpgsql(item, tags, notes);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const ast = value as Ast;
  for (const key of Object.keys(ast)) {
    const child = ast[key];
    if (DYNAMIC_PLPGSQL.has(key) || key === 'dynquery') tags.add('dynamic-sql');
    if (key === 'PLpgSQL_expr') {
      for (const tag of embeddedSqlTags(asAst(child), notes)) tags.add(tag);
      continue;
    }
    walkPlpgsql(child, tags, notes);
  }
}

function embeddedSqlTags(expr: Ast | undefined, notes: Set<string> | undefined): RiskTag[] {
  const query = expr?.['query'];
  if (typeof query !== 'string') return [];
  const mode = typeof expr?.['parseMode'] === 'number' ? expr['parseMode'] : PARSE_MODE.statement;
  if (mode === PARSE_MODE.statement) return nestedSqlTags(query, notes);
  if (mode === PARSE_MODE.expression) return nestedSqlTags(`SELECT ${query}`, notes);
  if (mode >= PARSE_MODE.assignFirst && mode <= PARSE_MODE.assignLast) {
    const value = assignedExpression(query);
    return value === undefined ? ['dynamic-sql'] : nestedSqlTags(`SELECT ${value}`, notes);
  }
  return [];
}

/** `target := expression` (or `=`): the expression, found with the SQL scanner at bracket depth zero. */
function assignedExpression(assignment: string): string | undefined {
  let tokens: readonly { start: number; end: number; text: string }[];
  try {
    tokens = scanSync(assignment).tokens;
  } catch {
    return undefined;
  }
  let depth = 0;
  for (const token of tokens) {
    if (token.text === '(' || token.text === '[') depth++;
    else if (token.text === ')' || token.text === ']') depth--;
    else if (depth === 0 && (token.text === ':=' || token.text === '=')) {
      return new SourceText(assignment).cut(token.end);
    }
  }
  return undefined;
}

/**
 * Tags of SQL embedded in a function body; SQL that does not parse cannot be inspected (fail closed). The embedded
 * statements' notes (an unbounded WHERE) go to `notes` when given.
 */
export function nestedSqlTags(sql: string, notes?: Set<string>): RiskTag[] {
  readsValue();
  const statements = classifyUncached(sql, {});
  const tags = new Set<RiskTag>();
  for (const statement of statements) {
    if (statement.error !== undefined) tags.add('dynamic-sql');
    for (const tag of statement.tags) tags.add(tag);
    for (const note of statement.notes ?? []) notes?.add(note);
  }
  return [...tags];
}
