/** Shared vocabulary of the SQL classifier: the classified statement, parse-tree helpers and the walk's findings. */
import { type OperationKind, RISK_TAGS, type RiskTag } from '../../../core/operation.js';
import type { ReadFunctions } from './read-functions.js';

export type Ast = { readonly [key: string]: unknown };

export interface ClassifiedStatement {
  readonly kind: OperationKind;
  readonly tags: readonly RiskTag[];
  /** Command tag style label: SELECT, INSERT, CREATE TABLE, DO... */
  readonly action: string;
  /** The statement's own text, cut from the message. */
  readonly text: string;
  /** Set when the parser rejected the SQL: kind is then `unknown`. */
  readonly error?: string;
  /** `PREPARE name AS ...`: the session remembers this classification under the name (kind and tags are the inner statement's). */
  readonly prepares?: string;
  /** `EXECUTE name`: the prepared statement it runs. */
  readonly executes?: string;
  /** `DEALLOCATE name`: the session forgets the name. */
  readonly deallocates?: string;
  /** `DEALLOCATE ALL` or `DISCARD ALL`: the session forgets every prepared name. */
  readonly deallocatesAll?: boolean;
  /** The statement calls a function somewhere (see `Risks.callsFunctions`). */
  readonly callsFunctions?: boolean;
  /** Why a risk tag was given where the text may not show it (a WHERE clause that bounds nothing). */
  readonly notes?: readonly string[];
}

export interface ClassifyOptions {
  /** Looks up what the session recorded for `PREPARE name`; without it, `EXECUTE` is `unknown`. */
  readonly preparedStatement?: (name: string) => ClassifiedStatement | undefined;
  /** Functions outside pg_catalog the resource vouches for as plain reads (`readFunctions`). */
  readonly readFunctions?: ReadFunctions;
}

/** How privileged each kind is; `unknown` outranks everything so a message with an unclassified part is denied. */
export const KIND_RANK: Readonly<Record<OperationKind, number>> = Object.assign(Object.create(null), {
  session: 0,
  read: 1,
  write: 2,
  ddl: 3,
  admin: 4,
  unknown: 5,
});

export function mostPrivileged(a: OperationKind, b: OperationKind): OperationKind {
  return KIND_RANK[b] > KIND_RANK[a] ? b : a;
}

// ---------------------------------------------------------------------------------------------------------------
// Classifying one statement

export interface Context {
  /** The top-level statement's text (PL/pgSQL bodies are parsed from it). */
  readonly text: string;
  readonly options: ClassifyOptions;
}

/** What the statement table says about one statement node, before its subtree is walked. */
export interface Finding {
  readonly kind: OperationKind;
  readonly action: string;
  readonly tags?: readonly RiskTag[];
  /** The statement it names does not run (EXPLAIN without ANALYZE): only dangerous tags found inside count. */
  readonly inert?: boolean;
  readonly prepares?: string;
  readonly executes?: string;
  readonly deallocates?: string;
  readonly deallocatesAll?: boolean;
  /** See `ClassifiedStatement.notes`. */
  readonly notes?: readonly string[];
}

/** What the walk of a subtree found: tags, and the least kind its nested statements and calls imply. */
export interface Risks {
  readonly tags: Set<RiskTag>;
  floor: OperationKind;
  /** A function is called somewhere in the statement (aggregates included): it may have side effects. */
  callsFunctions: boolean;
  /** A nested `EXECUTE name` (under EXPLAIN): the classification depends on what the session prepared. */
  executes?: string;
  /** Notes of the statement and of statements nested in it (see `ClassifiedStatement.notes`). */
  readonly notes: Set<string>;
}

export type StatementRule = Finding | ((node: Ast, context: Context) => Finding);

// ---------------------------------------------------------------------------------------------------------------
// Small AST helpers

export interface DefElem {
  readonly defname?: string;
  readonly arg?: unknown;
}

export function nodeType(wrapper: Ast): string | undefined {
  const keys = Object.keys(wrapper);
  return keys.length === 1 ? keys[0] : undefined;
}

export function asAst(value: unknown): Ast | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Ast) : undefined;
}

/** `[{ DefElem: {...} }, ...]` -> the DefElems. */
export function optionList(value: unknown): DefElem[] {
  if (!Array.isArray(value)) return [];
  return value.map((item) => asAst(asAst(item)?.['DefElem'])).filter((d): d is Ast => d !== undefined) as DefElem[];
}

/**
 * How many values kept from the text (constants, strings, options) the classifier has read so far. A classification
 * that read none depends on the statement's shape alone, so it holds for every text that differs from it only in
 * its constants (see the shape cache in classify.ts). Every read of a value goes through `readsValue`.
 */
let valueReads = 0;

export function valuesRead(): number {
  return valueReads;
}

/** Says that the classification under way depends on a value of the text (see `valuesRead`). */
export function readsValue(): void {
  valueReads++;
}

/** `{ String: { sval } }` -> sval: a string value (a constant's, an option's). For names, see `nameValue`. */
export function stringValue(value: unknown): string | undefined {
  readsValue();
  return nameValue(value);
}

/**
 * `{ String: { sval } }` -> sval, for names only (a function's): the parser keeps names as written and constants
 * never stand in for one, so reading one does not count as reading a value.
 */
export function nameValue(value: unknown): string | undefined {
  const sval = asAst(asAst(value)?.['String'])?.['sval'];
  return typeof sval === 'string' ? sval : undefined;
}

/** `{ A_Const: { sval: { sval } } }` -> sval. */
export function constantString(value: unknown): string | undefined {
  readsValue();
  const sval = asAst(asAst(asAst(value)?.['A_Const'])?.['sval'])?.['sval'];
  return typeof sval === 'string' ? sval : undefined;
}

/** Boolean spellings PostgreSQL accepts (parse_bool), as the parser leaves them: strings, integers or booleans. */
const TRUE_WORDS = new Set(['t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'fa', 'fal', 'fals', 'false', 'n', 'no', 'of', 'off', '0']);

export function booleanValue(value: unknown): boolean | undefined {
  readsValue();
  const node = asAst(value);
  const constant = asAst(node?.['A_Const']);
  const text = constantString(value) ?? stringValue(value);
  if (text !== undefined) {
    const word = text.trim().toLowerCase();
    return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
  }
  // The parser omits zero values: `{ ival: {} }` is 0 and `{ boolval: {} }` is false.
  const ival = asAst(constant?.['ival']);
  if (ival !== undefined) return ival['ival'] === 1 ? true : ival['ival'] === undefined ? false : undefined;
  const boolval = asAst(constant?.['boolval'] ?? node?.['Boolean']);
  if (boolval !== undefined) return boolval['boolval'] === true;
  return undefined;
}

export function isTrue(value: unknown): boolean {
  return booleanValue(value) === true;
}

export function isFalse(value: unknown): boolean {
  return booleanValue(value) === false;
}

export function orderTags(tags: Iterable<RiskTag>): RiskTag[] {
  const present = new Set(tags);
  return (Object.keys(RISK_TAGS) as RiskTag[]).filter((tag) => present.has(tag));
}

export function nullPrototype<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.assign(Object.create(null) as Record<string, T>, entries);
}

export const READ_WRITE_OPTION = 'transaction_read_only';
/** Settings whose change would let a caller leave the read-only session it was opened in. */
export const READ_ONLY_SETTINGS = new Set(['default_transaction_read_only', 'transaction_read_only']);
/** Settings that change whose privileges the session runs with. */
export const ROLE_SETTINGS = new Set(['role', 'session_authorization', 'session_replication_role']);
