/** Compiles a `*` wildcard pattern into a whole-string, case-sensitive matcher (`*` also matches `/`). */
export function wildcardMatcher(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (value) => value === pattern;
  const source = pattern.split('*').map(escapeRegExp).join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (value) => regex.test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
