/**
 * Whether the WHERE clause of a DELETE or UPDATE narrows the rows of its target, judged on the parse tree.
 *
 * Every expression is judged as one of:
 * - `all`: true for every row of the target (constant true, `x = x`, `x IS NULL OR x IS NOT NULL`, `id IN (id)`...);
 * - `none`: true for no row (constant false or NULL, `x <> x`): a statement that touches nothing is bounded;
 * - `free`: does not depend on the target's rows, value unknown (`EXISTS (SELECT 1 FROM other)`, `$1`, `now() > $2`,
 *   `random() < 0.5`): when it is true it is true for every row, so it bounds nothing;
 * - `bound`: depends on a column of the target in a way not recognised as trivial.
 * AND is bounded when any part is `bound` (or `none`); OR is unbounded when any part is `all` or `free`. The clause
 * bounds the target only when it is judged `bound` or `none`.
 *
 * The rule when unsure: an expression counts as bounding only if it references a column of the target; one that
 * references none, whatever it calls, is `free`. Unqualified column names count as the target's at the statement's
 * level (they may be a USING/FROM table's: then the clause is taken as bounded), and as the subquery's own inside a
 * subquery that has a FROM clause. Not recognised (taken as bounded): tautologies that depend on the schema or the
 * data (`id IS NOT NULL` on a NOT NULL column, `id > 0` on serial ids), arithmetic ones (`id = id + 0`), self-joins
 * through EXISTS or a CTE; `maxRows` (planner estimates) covers those.
 *
 * Constant folding is sound only for what PostgreSQL itself would compute the same way: booleans, NULL, and `=`,
 * `<>`, `<`, `>`, `<=`, `>=` between two numbers or two string literals. Everything else is left unfolded (`free`).
 * Reading a constant's value goes through `readsValue`, so the classifier's shape cache never reuses a judgement
 * that read one for a text with other constants.
 */
import { type Ast, asAst, booleanValue, nameValue, nodeType, readsValue } from './sql-ast.js';

type Bound = 'all' | 'none' | 'free' | 'bound';
type Constant = boolean | number | string | null;

interface Judgement {
  readonly bound: Bound;
  /** Why an `all` or `free` judgement holds, for `policy explain`. */
  readonly why?: string;
  /** The folded value, when the expression is a constant the judge could compute. */
  readonly value?: Constant;
}

/** The statement's target as column references may name it. */
interface Target {
  readonly relname: string;
  readonly schemaname: string | undefined;
  /** The alias, or the relation's name when there is none: what a qualified column reference uses. */
  readonly qualifier: string;
}

export interface WhereVerdict {
  readonly bounded: boolean;
  /** For an unbounded clause: one sentence naming the target and why (shown by `policy explain`). */
  readonly reason?: string;
}

/** Judges the `whereClause` of a DeleteStmt or UpdateStmt node (an absent clause is unbounded). */
export function judgeWhere(statement: Ast, verb: 'DELETE' | 'UPDATE'): WhereVerdict {
  const relation = asAst(statement['relation']);
  const relname = typeof relation?.['relname'] === 'string' ? relation['relname'] : '?';
  const alias = asAst(relation?.['alias'])?.['aliasname'];
  const target: Target = {
    relname,
    schemaname: typeof relation?.['schemaname'] === 'string' ? relation['schemaname'] : undefined,
    qualifier: typeof alias === 'string' ? alias : relname,
  };
  const where = statement['whereClause'];
  if (where === undefined) return { bounded: false, reason: `${verb} on ${relname} has no WHERE clause` };
  const judgement = new WhereJudge(target).judge(where, { unqualifiedIsTarget: true, shadowed: false });
  if (judgement.bound === 'bound' || judgement.bound === 'none') return { bounded: true };
  return {
    bounded: false,
    reason: `the WHERE clause of ${verb} on ${relname} does not depend on the rows of ${relname}: ${judgement.why ?? 'it references no column of the target'}`,
  };
}

interface Scope {
  /** Unqualified column names may be the target's (the statement's own level, or a subquery without FROM). */
  readonly unqualifiedIsTarget: boolean;
  /** A subquery's FROM reuses the target's qualifier: qualified references name the subquery's relation. */
  readonly shadowed: boolean;
}

const COMPARISONS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);
/** Comparisons true of an expression with itself (for non-NULL values), and those never true. */
const REFLEXIVE = new Set(['=', '<=', '>=']);
const IRREFLEXIVE = new Set(['<>', '!=', '<', '>']);
/** `x IS TRUE OR x IS NOT TRUE` holds for every value, NULL included. */
const BOOLEAN_TEST_COMPLEMENTS: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  IS_TRUE: 'IS_NOT_TRUE',
  IS_NOT_TRUE: 'IS_TRUE',
  IS_FALSE: 'IS_NOT_FALSE',
  IS_NOT_FALSE: 'IS_FALSE',
  IS_UNKNOWN: 'IS_NOT_UNKNOWN',
  IS_NOT_UNKNOWN: 'IS_UNKNOWN',
});
/** Operator pairs whose OR over the same operands is true for every non-NULL value. */
const COMPLEMENTS: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  '=': '<>',
  '<>': '=',
  '!=': '=',
  '<': '>=',
  '>=': '<',
  '>': '<=',
  '<=': '>',
});

class WhereJudge {
  constructor(private readonly target: Target) {}

  judge(value: unknown, scope: Scope): Judgement {
    const wrapper = asAst(value);
    const type = wrapper === undefined ? undefined : nodeType(wrapper);
    const node = type === undefined ? undefined : asAst(wrapper?.[type]);
    if (type === undefined || node === undefined) return this.byReference(value, scope);
    switch (type) {
      case 'A_Const':
        return constantJudgement(node);
      case 'TypeCast':
        return this.typeCast(node, scope);
      case 'BoolExpr':
        return this.boolExpr(node, scope);
      case 'A_Expr':
        return this.aExpr(node, scope);
      case 'NullTest':
        return this.byReference(value, scope);
      case 'CoalesceExpr':
        return this.coalesce(node, scope);
      case 'SubLink':
        return this.subLink(node, scope);
      case 'CurrentOfExpr':
        return { bound: 'bound' }; // one row: the cursor's
      default:
        return this.byReference(value, scope);
    }
  }

  /** Anything not folded: bounded when it references the target, `free` otherwise. */
  private byReference(value: unknown, scope: Scope): Judgement {
    return this.references(value, scope)
      ? { bound: 'bound' }
      : { bound: 'free', why: 'the condition references no column of the target' };
  }

  private typeCast(node: Ast, scope: Scope): Judgement {
    const inner = this.judge(node['arg'], scope);
    if (inner.value === undefined) return inner.bound === 'bound' ? inner : { bound: inner.bound, why: inner.why };
    const names = asAst(node['typeName'])?.['names'];
    const typeName = Array.isArray(names) ? nameValue(names[names.length - 1]) : undefined;
    if (inner.value === null) return { bound: 'none', value: null };
    if (typeName === 'bool') {
      const folded = booleanValue({ A_Const: { sval: { sval: String(inner.value) } } });
      if (folded !== undefined) return boolJudgement(folded);
    }
    // Other casts may change the value's meaning (text to date, float to int): not folded.
    return { bound: 'free', why: 'the condition is a constant expression' };
  }

  private boolExpr(node: Ast, scope: Scope): Judgement {
    const args = Array.isArray(node['args']) ? node['args'] : [];
    const parts = args.map((arg) => this.judge(arg, scope));
    const op = node['boolop'];
    if (op === 'NOT_EXPR') {
      const part = parts[0] ?? { bound: 'free' };
      if (part.bound === 'all') return { bound: 'none' };
      if (part.bound === 'none') return { bound: 'all', why: `NOT of a condition that is never true` };
      return part;
    }
    if (op === 'AND_EXPR') {
      if (parts.some((p) => p.bound === 'none')) return { bound: 'none' };
      if (parts.some((p) => p.bound === 'bound')) return { bound: 'bound' };
      const free = parts.find((p) => p.bound === 'free');
      return free ?? { bound: 'all', why: (parts[0] as Judgement | undefined)?.why ?? 'every part is always true' };
    }
    // OR: one part true for every row makes the whole true for every row.
    const all = parts.find((p) => p.bound === 'all');
    if (all !== undefined) return { bound: 'all', why: `OR with a condition that is always true (${all.why})` };
    const free = parts.find((p) => p.bound === 'free');
    if (free !== undefined)
      return { bound: 'free', why: `OR with a condition that does not depend on the target (${free.why})` };
    const live = args.filter((_, index) => parts[index]?.bound === 'bound');
    if (live.length === 0) return { bound: 'none' };
    if (hasComplementaryPair(live)) return { bound: 'all', why: 'OR of a condition and its opposite' };
    return { bound: 'bound' };
  }

  private aExpr(node: Ast, scope: Scope): Judgement {
    const kind = node['kind'];
    const names = Array.isArray(node['name']) ? node['name'] : [];
    const operator = nameValue(names[names.length - 1]);
    const left = node['lexpr'];
    const right = node['rexpr'];
    const touchesTarget = this.references(left, scope) || this.references(right, scope);
    const same = left !== undefined && right !== undefined && sameExpression(left, right);
    if (kind === 'AEXPR_NOT_DISTINCT' && same)
      return { bound: 'all', why: 'IS NOT DISTINCT FROM compares an expression with itself' };
    if (kind === 'AEXPR_DISTINCT' && same) return { bound: 'none' };
    if (kind === 'AEXPR_OP' && operator !== undefined && COMPARISONS.has(operator)) {
      if (same && touchesTarget && REFLEXIVE.has(operator))
        return { bound: 'all', why: `${operator} compares an expression with itself` };
      if (same && touchesTarget && IRREFLEXIVE.has(operator)) return { bound: 'none' };
      if (!touchesTarget) return foldComparison(operator, this.judge(left, scope), this.judge(right, scope));
    }
    if (kind === 'AEXPR_IN' && touchesTarget) {
      const items = asAst(asAst(right)?.['List'])?.['items'];
      if (operator === '=' && Array.isArray(items) && items.some((item) => sameExpression(left, item)))
        return { bound: 'all', why: 'IN lists the expression it tests' };
    }
    if ((kind === 'AEXPR_LIKE' || kind === 'AEXPR_ILIKE') && (operator === '~~' || operator === '~~*')) {
      if (this.references(left, scope) && matchesEverything(right))
        return { bound: 'all', why: "LIKE '%' matches every value" };
    }
    return touchesTarget
      ? { bound: 'bound' }
      : { bound: 'free', why: 'the condition references no column of the target' };
  }

  /** `coalesce(a, b, ...)` is its first non-NULL argument: a leading non-NULL constant decides it. */
  private coalesce(node: Ast, scope: Scope): Judgement {
    const args = Array.isArray(node['args']) ? node['args'] : [];
    for (const arg of args) {
      const part = this.judge(arg, scope);
      if (part.value === undefined) break;
      if (part.value !== null) return { ...part, why: 'coalesce starts with a constant' };
    }
    return this.byReference({ CoalesceExpr: node }, scope);
  }

  private subLink(node: Ast, scope: Scope): Judgement {
    if (node['subLinkType'] === 'ANY_SUBLINK' && this.selectsItself(node)) {
      return { bound: 'all', why: `IN selects the same column from ${this.target.relname} itself` };
    }
    return this.byReference({ SubLink: node }, scope);
  }

  /** `col IN (SELECT col FROM target)` with nothing narrowing the subquery (its own WHERE judged by these rules). */
  private selectsItself(node: Ast): boolean {
    const column = columnName(node['testexpr']);
    const select = asAst(asAst(node['subselect'])?.['SelectStmt']);
    if (column === undefined || select === undefined) return false;
    const from = Array.isArray(select['fromClause']) ? select['fromClause'] : [];
    const targets = Array.isArray(select['targetList']) ? select['targetList'] : [];
    const range = asAst(asAst(from[0])?.['RangeVar']);
    const narrowing = ['limitCount', 'groupClause', 'havingClause', 'distinctClause', 'withClause'];
    if (from.length !== 1 || targets.length !== 1 || narrowing.some((key) => select[key] !== undefined)) return false;
    const sameTable = range?.['relname'] === this.target.relname && range?.['schemaname'] === this.target.schemaname;
    if (!sameTable) return false;
    // `... FROM target WHERE true` narrows nothing either.
    if (
      select['whereClause'] !== undefined &&
      judgeWhere({ relation: range, whereClause: select['whereClause'] }, 'DELETE').bounded
    )
      return false;
    return sameTable && columnName(asAst(asAst(targets[0])?.['ResTarget'])?.['val']) === column;
  }

  /** Whether the subtree references a column (or the whole row) of the target. */
  references(value: unknown, scope: Scope): boolean {
    if (Array.isArray(value)) return value.some((item) => this.references(item, scope));
    const ast = asAst(value);
    if (ast === undefined) return false;
    for (const key of Object.keys(ast)) {
      const child = ast[key];
      if (key === 'ColumnRef' && this.namesTarget(asAst(child), scope)) return true;
      if (key === 'SelectStmt' || key === 'larg' || key === 'rarg') {
        if (this.references(child, this.innerScope(asAst(child), scope))) return true;
        continue;
      }
      if (child !== null && typeof child === 'object' && this.references(child, scope)) return true;
    }
    return false;
  }

  private innerScope(select: Ast | undefined, outer: Scope): Scope {
    const from = Array.isArray(select?.['fromClause']) ? (select?.['fromClause'] as unknown[]) : [];
    if (from.length === 0) return outer;
    return { unqualifiedIsTarget: false, shadowed: outer.shadowed || this.fromReuses(from) };
  }

  /** A subquery's FROM that names a relation as the target's qualifier hides the target from qualified references. */
  private fromReuses(from: readonly unknown[]): boolean {
    let reuses = false;
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) {
        for (const item of value) visit(item);
        return;
      }
      const ast = asAst(value);
      if (ast === undefined) return;
      const range = asAst(ast['RangeVar']) ?? asAst(ast['RangeSubselect']) ?? asAst(ast['RangeFunction']);
      if (range !== undefined) {
        const alias = asAst(range['alias'])?.['aliasname'] ?? range['relname'];
        if (alias === this.target.qualifier) reuses = true;
      }
      const join = asAst(ast['JoinExpr']);
      if (join !== undefined) {
        visit(join['larg']);
        visit(join['rarg']);
      }
    };
    visit(from);
    return reuses;
  }

  private namesTarget(ref: Ast | undefined, scope: Scope): boolean {
    const fields = Array.isArray(ref?.['fields']) ? (ref?.['fields'] as unknown[]) : [];
    const names = fields.map((field) => nameValue(field));
    if (names.length === 1) {
      // A bare name is a column, or the whole row when it is the target's qualifier.
      return scope.unqualifiedIsTarget || (!scope.shadowed && names[0] === this.target.qualifier);
    }
    if (scope.shadowed) return false;
    const column = names.length >= 3 ? names.slice(-3, -1) : names.slice(0, 1);
    if (column.length === 2) {
      return column[1] === this.target.relname && (this.target.schemaname ?? column[0]) === column[0];
    }
    return column[0] === this.target.qualifier;
  }
}

function constantJudgement(node: Ast): Judgement {
  if (node['isnull'] === true) return { bound: 'none', value: null };
  readsValue();
  const boolval = asAst(node['boolval']);
  if (boolval !== undefined) return boolJudgement(boolval['boolval'] === true);
  const ival = asAst(node['ival']);
  if (ival !== undefined) return numberJudgement(typeof ival['ival'] === 'number' ? ival['ival'] : 0);
  const fval = asAst(node['fval'])?.['fval'];
  if (typeof fval === 'string') return numberJudgement(Number(fval));
  const sval = asAst(node['sval'])?.['sval'];
  if (typeof sval === 'string') return { bound: 'free', why: 'the condition is a constant', value: sval };
  return { bound: 'free', why: 'the condition is a constant' };
}

function boolJudgement(value: boolean): Judgement {
  return value ? { bound: 'all', why: 'the condition is constant true', value } : { bound: 'none', value };
}

function numberJudgement(value: number): Judgement {
  return { bound: 'free', why: 'the condition is a constant', value };
}

/** Folds a comparison of two constants of the same type; anything else without target columns is `free`. */
function foldComparison(operator: string, left: Judgement, right: Judgement): Judgement {
  const a = left.value;
  const b = right.value;
  if (a === null || b === null) return { bound: 'none', value: null };
  const numbers = typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b);
  // Strings: only equality is folded (ordering depends on the collation).
  const strings =
    typeof a === 'string' && typeof b === 'string' && (operator === '=' || operator === '<>' || operator === '!=');
  if (!numbers && !strings) return { bound: 'free', why: 'the condition references no column of the target' };
  const result =
    operator === '='
      ? a === b
      : operator === '<>' || operator === '!='
        ? a !== b
        : operator === '<'
          ? a < b
          : operator === '>'
            ? a > b
            : operator === '<='
              ? a <= b
              : a >= b;
  return result
    ? { bound: 'all', why: `the condition compares constants and is always true`, value: true }
    : { bound: 'none', value: false };
}

function matchesEverything(pattern: unknown): boolean {
  const sval = asAst(asAst(asAst(pattern)?.['A_Const'])?.['sval'])?.['sval'];
  if (typeof sval !== 'string') return false;
  readsValue();
  return sval.length > 0 && /^%+$/.test(sval);
}

/** The last name of a plain column reference. */
function columnName(value: unknown): string | undefined {
  const fields = asAst(asAst(value)?.['ColumnRef'])?.['fields'];
  return Array.isArray(fields) && fields.length > 0 ? nameValue(fields[fields.length - 1]) : undefined;
}

/** Two expressions are the same when their trees are equal but for source locations. */
export function sameExpression(a: unknown, b: unknown): boolean {
  return treeKey(a) === treeKey(b);
}

/**
 * A subtree as text without source locations. Comparing trees that hold constants compares the constants' values,
 * which the shape cache must know of (`x = 5 OR x <> 5` and `x = 5 OR x <> 6` share a shape).
 */
function treeKey(value: unknown): string {
  const key = JSON.stringify(value, withoutLocation) ?? '';
  if (key.includes('"A_Const"')) readsValue();
  return key;
}

function withoutLocation(key: string, value: unknown): unknown {
  return key === 'location' ? undefined : value;
}

/** OR of `p` and its complement on the same operands: `x IS NULL OR x IS NOT NULL`, `x = 5 OR x <> 5`. */
function hasComplementaryPair(parts: readonly unknown[]): boolean {
  const keys = new Set<string>();
  for (const part of parts) {
    const key = complementKey(part, false);
    if (key !== undefined) keys.add(key);
  }
  for (const part of parts) {
    const key = complementKey(part, true);
    if (key !== undefined && keys.has(key)) return true;
  }
  return false;
}

/** A key naming the condition (or, with `negate`, its complement), for the conditions whose complement is known. */
function complementKey(part: unknown, negate: boolean): string | undefined {
  const wrapper = asAst(part);
  const nullTest = asAst(wrapper?.['NullTest']);
  if (nullTest !== undefined) {
    const isNull = nullTest['nulltesttype'] === 'IS_NULL';
    return `null:${isNull !== negate}:${treeKey(nullTest['arg'])}`;
  }
  const expr = asAst(wrapper?.['A_Expr']);
  if (expr?.['kind'] === 'AEXPR_OP') {
    const names = Array.isArray(expr['name']) ? expr['name'] : [];
    const operator = nameValue(names[names.length - 1]);
    if (operator === undefined || COMPLEMENTS[operator] === undefined) return undefined;
    const normal = operator === '!=' ? '<>' : operator;
    const op = negate ? (COMPLEMENTS[normal] as string) : normal;
    return `op:${op}:${treeKey([expr['lexpr'], expr['rexpr']])}`;
  }
  const test = asAst(wrapper?.['BooleanTest']);
  const testType = test?.['booltesttype'];
  if (typeof testType === 'string' && BOOLEAN_TEST_COMPLEMENTS[testType] !== undefined) {
    return `is:${negate ? BOOLEAN_TEST_COMPLEMENTS[testType] : testType}:${treeKey(test?.['arg'])}`;
  }
  // NOT p: its complement is p itself, whatever p is.
  const bool = asAst(wrapper?.['BoolExpr']);
  if (bool?.['boolop'] === 'NOT_EXPR' && Array.isArray(bool['args'])) return complementKey(bool['args'][0], !negate);
  return negate ? undefined : `expr:${treeKey(part)}`;
}
