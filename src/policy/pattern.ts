// The matcher lives in core/ so identity's claim conditions use the same one without importing policy/.
export { wildcardMatcher } from '../core/wildcard.js';

/**
 * A `..` path segment (either slash, dots or separators percent-encoded as a URI may carry them): a server may resolve
 * `/data/out/../x` outside what a `*` glob seems to hold.
 */
const DOT_DOT = /(^|[/\\]|%2f|%5c)(\.|%2e){2}([/\\]|%2f|%5c|$)/i;

export function hasDotDotSegment(value: string): boolean {
  return DOT_DOT.test(value);
}
