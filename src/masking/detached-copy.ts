/**
 * A copy of `value` that keeps none of the text it was cut from alive. V8 represents a slice of 13 or more
 * characters (what `slice`, `substring` and a regex match give) as a view into its parent string, so a cache that
 * keeps such a slice as its key keeps the whole parent: a 64 KiB stream chunk, a response body, a row value, with
 * every unmasked value in it, for as long as the entry lives. Concatenating makes a two-part string and slicing
 * that flattens it into a new string of the copied characters only: the slice then points into that. No library
 * does this; JavaScript has no explicit string copy.
 */
export function detachedCopy(value: string): string {
  return ` ${value}`.slice(1);
}
