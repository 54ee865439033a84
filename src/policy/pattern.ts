// The matcher lives in core/ so identity's claim conditions use the same one without importing policy/.
export { wildcardMatcher } from '../core/wildcard.js';
