/**
 * Route patterns over decoded path segments: `*` matches one segment, `**` (last) matches the rest, anything else
 * matches literally but ignoring case: many upstreams (ASP.NET, IIS, case-insensitive file systems) route
 * `/V1/Admin` as `/v1/admin`, so a rule written for one must hold for the other; an upstream that minds case answers
 * the odd spelling with 404. Written by hand because it is ten lines and must match exactly what
 * `request-path.ts` decodes.
 */
export type PathPattern = (segments: readonly string[]) => boolean;

export function compilePathPattern(pattern: string): PathPattern {
  const parts = pattern.split('/').slice(1);
  const rest = parts.at(-1) === '**';
  const fixed = (rest ? parts.slice(0, -1) : parts).map((part) => part.toLowerCase());
  return (segments) => {
    if (rest ? segments.length < fixed.length : segments.length !== fixed.length) return false;
    return fixed.every((part, index) => part === '*' || part === segments[index]?.toLowerCase());
  };
}
