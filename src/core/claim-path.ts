/**
 * Claim paths: `repository`, `realm_access.roles`, and keys that contain dots written in brackets with quotes,
 * `["kubernetes.io"].namespace` or `['kubernetes.io'].namespace`. Hand-written: the grammar is four rules and no
 * maintained JSONPath library keeps this small or refuses filters and wildcards the way claims need.
 */
export type ClaimPath = readonly string[];

export class ClaimPathError extends Error {}

const NAME = /^[^.[\]"'{}\s]+/;

/** Parses a claim path; throws ClaimPathError naming what is wrong. */
export function parseClaimPath(text: string): ClaimPath {
  const segments: string[] = [];
  let rest = text;
  let first = true;
  while (rest.length > 0) {
    if (rest.startsWith('[')) {
      const quote = rest[1];
      if (quote !== '"' && quote !== "'") throw new ClaimPathError(`expected a quoted key after "[" in ${text}`);
      const end = rest.indexOf(`${quote}]`, 2);
      if (end < 0) throw new ClaimPathError(`unterminated [${quote}...${quote}] in ${text}`);
      const key = rest.slice(2, end);
      if (key.length === 0) throw new ClaimPathError(`empty key in ${text}`);
      segments.push(key);
      rest = rest.slice(end + 2);
    } else {
      if (!first) {
        if (!rest.startsWith('.')) throw new ClaimPathError(`expected "." or "[" at "${rest}" in ${text}`);
        rest = rest.slice(1);
        if (rest.startsWith('[')) continue;
      }
      const name = NAME.exec(rest)?.[0];
      if (name === undefined) throw new ClaimPathError(`expected a claim name at "${rest}" in ${text}`);
      segments.push(name);
      rest = rest.slice(name.length);
    }
    first = false;
  }
  if (segments.length === 0) throw new ClaimPathError('empty claim path');
  return segments;
}

/** The message of a path's syntax error, or undefined when it parses (for config validation). */
export function claimPathProblem(text: string): string | undefined {
  try {
    parseClaimPath(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The value at a parsed path. Own properties only, so `__proto__` or `constructor` never resolve to anything. */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: ClaimPath): unknown {
  let node: unknown = claims;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * A claim by path text. An exact top-level key wins over the path (a config written before the bracket syntax kept
 * working); a path that does not parse resolves to nothing.
 */
export function claimValue(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  const problem = claimPathProblem(path);
  return problem === undefined ? claimAt(claims, parseClaimPath(path)) : undefined;
}

/** A scalar claim as text (string, finite number, boolean); anything else, or text with control characters, is not. */
export function claimText(value: unknown): string | undefined {
  const text =
    typeof value === 'string'
      ? value
      : (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean'
        ? String(value)
        : undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  return text === undefined || text.length === 0 || /[\u0000-\u001f\u007f]/.test(text) ? undefined : text;
}
