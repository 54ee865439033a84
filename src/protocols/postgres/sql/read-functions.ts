/**
 * A resource's `readFunctions`: functions outside pg_catalog that its operators vouch for as plain reads. Entries are
 * matched against a call's name as the statement writes it: `analytics.score` matches `analytics.score(...)` only,
 * `score` matches an unqualified `score(...)` only (resolved through the session's search_path, which a reader may
 * not change). Names compare as PostgreSQL stores them (unquoted identifiers are folded to lower case); `*` matches
 * any run of characters within the part it is in.
 */

import type { PostgresResourceConfig } from '../../../config/schema.js';

/** `schema.name` or `name`, each part an identifier with optional `*` wildcards. */
export const READ_FUNCTION_PATTERN = /^([A-Za-z_*][A-Za-z0-9_$*]*\.)?[A-Za-z_*][A-Za-z0-9_$*]*$/;

interface Entry {
  readonly schema: ((value: string) => boolean) | undefined;
  readonly name: (value: string) => boolean;
}

export class ReadFunctions {
  /** Identifies the list in the classifier's caches: the same text classifies differently under another list. */
  readonly key: string;
  private readonly entries: readonly Entry[];

  constructor(patterns: readonly string[]) {
    for (const pattern of patterns) {
      if (!READ_FUNCTION_PATTERN.test(pattern)) throw new Error(`not a function name pattern: ${pattern}`);
    }
    this.key = [...new Set(patterns)].sort().join(',');
    this.entries = patterns.map((pattern) => {
      const dot = pattern.indexOf('.');
      return dot < 0
        ? { schema: undefined, name: wildcardMatcher(pattern) }
        : { schema: wildcardMatcher(pattern.slice(0, dot)), name: wildcardMatcher(pattern.slice(dot + 1)) };
    });
  }

  /** Whether a call written `schema.name(...)` (schema undefined when unqualified) is listed. */
  allows(schema: string | undefined, name: string): boolean {
    return this.entries.some((entry) =>
      entry.schema === undefined
        ? schema === undefined && entry.name(name)
        : schema !== undefined && entry.schema(schema) && entry.name(name),
    );
  }
}

const lists = new WeakMap<PostgresResourceConfig, ReadFunctions | undefined>();

/** The resource's `readFunctions` (undefined when it lists none), built once per configured resource. */
export function readFunctionsOf(resource: PostgresResourceConfig): ReadFunctions | undefined {
  if (!lists.has(resource)) {
    const patterns = resource.readFunctions;
    lists.set(resource, patterns.length === 0 ? undefined : new ReadFunctions(patterns));
  }
  return lists.get(resource);
}

/** `*` matches any run of characters; everything else literally. (policy/pattern.ts has the same, but protocols/ does
 * not import policy/.) */
function wildcardMatcher(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (value) => value === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (value) => regex.test(value);
}
