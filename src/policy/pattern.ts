// The matcher lives in core/ so identity's claim conditions use the same one without importing policy/.
export { wildcardMatcher } from '../core/wildcard.js';

/** A `..` path segment (either slash): a server may resolve `/data/out/../x` outside what a `*` glob seems to hold. */
const DOT_DOT = /(^|[/\\])\.\.([/\\]|$)/;

export function hasDotDotSegment(value: string): boolean {
  return DOT_DOT.test(value);
}
