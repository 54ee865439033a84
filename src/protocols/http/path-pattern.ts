/**
 * Route patterns over decoded path segments: `*` matches one segment, `**` (last) matches the rest, anything else
 * matches literally. Written by hand because it is ten lines and must match exactly what `request-path.ts` decodes.
 */
export type PathPattern = (segments: readonly string[]) => boolean;

export function compilePathPattern(pattern: string): PathPattern {
  const parts = pattern.split('/').slice(1);
  const rest = parts.at(-1) === '**';
  const fixed = rest ? parts.slice(0, -1) : parts;
  return (segments) => {
    if (rest ? segments.length < fixed.length : segments.length !== fixed.length) return false;
    return fixed.every((part, index) => part === '*' || part === segments[index]);
  };
}
