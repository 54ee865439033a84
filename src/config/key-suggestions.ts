import { z } from 'zod';
import { configSchema } from './schema.js';

interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: JsonSchemaNode | boolean;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  allOf?: JsonSchemaNode[];
}

let inputSchema: JsonSchemaNode | undefined;

/** The keys the schema accepts in the object at `path` (all variants of a union), for "did you mean" hints. */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  // Built only when a config has an unknown key, so loading a good config never pays for it.
  inputSchema ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  let nodes: JsonSchemaNode[] = [inputSchema];
  for (const segment of path) {
    nodes = nodes.flatMap(variants).flatMap((node) => {
      if (typeof segment === 'number') return node.items ? [node.items] : [];
      const child = node.properties?.[String(segment)];
      if (child) return [child];
      return typeof node.additionalProperties === 'object' ? [node.additionalProperties] : [];
    });
  }
  const keys = new Set<string>();
  for (const node of nodes.flatMap(variants)) for (const key of Object.keys(node.properties ?? {})) keys.add(key);
  return [...keys];
}

function variants(node: JsonSchemaNode): JsonSchemaNode[] {
  const options = [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])];
  return options.length === 0 ? [node] : [node, ...options.flatMap(variants)];
}

/** The known key closest to `key` by edit distance, when close enough to be a probable typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = levenshtein(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Edit distance with one row of memory; hand-written because it is ten lines and runs only on error paths. */
function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}
