import { type ClaimPath, ClaimPathError, claimAt, claimText, parseClaimPath } from './claim-path.js';

/** Literal text and claim paths, in order: `repo:{repository}:ref:{ref}` is five parts. */
export type ClaimTemplate = readonly (string | ClaimPath)[];

/** Parses `{path}` placeholders (paths as in claim-path.ts, quotes may hold braces); throws ClaimPathError. */
export function parseClaimTemplate(text: string): ClaimTemplate {
  const parts: (string | ClaimPath)[] = [];
  let literal = '';
  let index = 0;
  while (index < text.length) {
    const char = text[index] as string;
    if (char === '}') throw new ClaimPathError(`unmatched "}" in template ${text}`);
    if (char !== '{') {
      literal += char;
      index += 1;
      continue;
    }
    let end = index + 1;
    let quote: string | undefined;
    for (; end < text.length; end += 1) {
      const c = text[end];
      if (quote !== undefined) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '}') break;
    }
    if (end >= text.length) throw new ClaimPathError(`unterminated "{" in template ${text}`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push(parseClaimPath(text.slice(index + 1, end)));
    index = end + 1;
  }
  if (literal) parts.push(literal);
  if (!parts.some((p) => typeof p !== 'string')) throw new ClaimPathError(`template ${text} names no {claim}`);
  return parts;
}

/** The template filled from the claims, or undefined when a claim it names is missing, empty or not a scalar. */
export function renderClaimTemplate(
  template: ClaimTemplate,
  claims: Readonly<Record<string, unknown>>,
): string | undefined {
  let out = '';
  for (const part of template) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const text = claimText(claimAt(claims, part));
    if (text === undefined) return undefined;
    out += text;
  }
  return out;
}
