import { loadModule, parseSync } from 'libpg-query';

let loaded: Promise<void> | undefined;

/** Loads the PostgreSQL parser (wasm) once, before `sqlTables` is called. */
export function loadSqlParser(): Promise<void> {
  loaded ??= loadModule().then(() => undefined);
  return loaded;
}

/**
 * The tables a SQL text names (`schema.table` when qualified), from the real PostgreSQL parser's tree: every RangeVar
 * except references to the statement's own CTEs. Unparsable text names nothing.
 */
export function sqlTables(sql: string): string[] {
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch {
    return [];
  }
  const tables = new Set<string>();
  const ctes = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    // A RangeVar is wrapped (`{ RangeVar: {...} }`) where the grammar allows any node, bare (`relation: {...}`) where
    // it allows only a RangeVar: recognise it by its `relname`.
    const { relname, schemaname } = node as { relname?: unknown; schemaname?: unknown };
    if (typeof relname === 'string') tables.add(typeof schemaname === 'string' ? `${schemaname}.${relname}` : relname);
    for (const [key, value] of Object.entries(node)) {
      if (key === 'CommonTableExpr' && value && typeof value === 'object') {
        const name = (value as { ctename?: string }).ctename;
        if (name) ctes.add(name);
      } else if (key === 'DropStmt' && value && typeof value === 'object') {
        droppedNames(value as DropStmt, tables);
      }
      walk(value);
    }
  };
  walk(tree);
  return [...tables].filter((t) => !ctes.has(t)).sort();
}

interface DropStmt {
  readonly removeType?: string;
  readonly objects?: readonly { List?: { items?: readonly { String?: { sval?: string } }[] } }[];
}

const DROPPED_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE']);

/** DROP names its tables as lists of strings, not RangeVars. */
function droppedNames(drop: DropStmt, into: Set<string>): void {
  if (!DROPPED_RELATIONS.has(drop.removeType ?? '')) return;
  for (const object of drop.objects ?? []) {
    const parts = (object.List?.items ?? []).map((i) => i.String?.sval).filter((v): v is string => v !== undefined);
    if (parts.length > 0) into.add(parts.join('.'));
  }
}

/** Vector-store collections or indexes an HTTP path names (Qdrant, Chroma: `/collections/X`; Pinecone: `/indexes/X`). */
export function httpCollections(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/\/(?:collections|indexes)\/([^/?#\s]+)/g)) {
    found.add(decodeURIComponent(match[1]!));
  }
  return [...found];
}
