/**
 * The view of a text detectors look at: each character outside ASCII whose compatibility form (NFKC) is ASCII is
 * replaced by that form (full-width `５５５`, no-break and thin spaces, `①`, mathematical digits), dash variants
 * (non-breaking hyphen U+2011, en and em dashes, minus signs) become `-`, and invisible characters (zero-width
 * space, joiners, word joiner, byte-order mark, soft hyphen) are removed. Detectors are written for ASCII; without
 * this, `５５５-０１２-３４５６` or `jane\u200b.doe@example.com` walk past them. A map leads from every folded offset
 * back to the original text, so the original span (with its invisible characters) is what gets masked.
 *
 * Folded per character rather than with `String.prototype.normalize` on the whole text: whole-text NFKC also
 * composes and reorders, which would make the offset map ambiguous; detectors only care about ASCII anyway.
 */
export interface FoldedText {
  /** The folded text (the original itself when nothing folded). */
  readonly text: string;
  /** Offset in the original of the character each folded character came from; undefined when nothing folded. */
  readonly starts?: Int32Array;
  /** Offset in the original just after that character. */
  readonly ends?: Int32Array;
}

/** Removed outright: they render as nothing, so no reader of the masked text would miss them. */
const INVISIBLE: ReadonlySet<number> = new Set([
  0x00ad, 0x034f, 0x061c, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2060,
  0x2061, 0x2062, 0x2063, 0x2064, 0xfeff,
]);

/** Dash and minus variants NFKC leaves alone or maps to another non-ASCII dash. */
const DASHES: ReadonlySet<number> = new Set([
  0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2043, 0x2212, 0x2e3a, 0x2e3b, 0xfe58, 0xfe63, 0xff0d,
]);

/** Per code point: its ASCII fold, '' for removed, or null when it stays as it is. Bounded: texts repeat. */
const cache = new Map<number, string | null>();
const CACHE_LIMIT = 4096;

function foldOf(codePoint: number): string | null {
  let folded = cache.get(codePoint);
  if (folded !== undefined) return folded;
  if (INVISIBLE.has(codePoint)) folded = '';
  else if (DASHES.has(codePoint)) folded = '-';
  else {
    const compatible = String.fromCodePoint(codePoint).normalize('NFKC');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: any ASCII, controls included
    folded = compatible.length > 0 && /^[\u0000-\u007f]+$/.test(compatible) ? compatible : null;
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(codePoint, folded);
  return folded;
}

/** Whether a text has anything outside ASCII (only such a text can fold). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range
const NON_ASCII = /[^\u0000-\u007f]/;

export function foldText(text: string): FoldedText {
  const first = text.search(NON_ASCII);
  if (first === -1) return { text };
  let out = text.slice(0, first);
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < first; i++) {
    starts.push(i);
    ends.push(i + 1);
  }
  let changed = false;
  for (let i = first; i < text.length; ) {
    const code = text.codePointAt(i) as number;
    const width = code > 0xffff ? 2 : 1;
    const folded = code < 0x80 ? null : foldOf(code);
    const piece = folded ?? text.slice(i, i + width);
    if (folded !== null) changed = true;
    out += piece;
    for (let k = 0; k < piece.length; k++) {
      starts.push(i);
      ends.push(i + width);
    }
    i += width;
  }
  if (!changed) return { text };
  return { text: out, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
}
