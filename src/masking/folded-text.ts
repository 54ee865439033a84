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

/**
 * Per code point: its ASCII fold, '' for removed, or null when it stays as it is. The Basic Multilingual Plane in a
 * flat table filled as characters are met (at most 64 Ki entries); the few astral ones (mathematical digits) in a map.
 */
const bmpFolds: (string | null | undefined)[] = new Array(0x10000).fill(undefined);
const astralFolds = new Map<number, string | null>();

function computeFold(codePoint: number): string | null {
  if (INVISIBLE.has(codePoint)) return '';
  if (DASHES.has(codePoint)) return '-';
  const compatible = String.fromCodePoint(codePoint).normalize('NFKC');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: any ASCII, controls included
  return compatible.length > 0 && /^[\u0000-\u007f]+$/.test(compatible) ? compatible : null;
}

function foldOf(codePoint: number): string | null {
  if (codePoint < 0x10000) {
    let folded = bmpFolds[codePoint];
    if (folded === undefined) bmpFolds[codePoint] = folded = computeFold(codePoint);
    return folded;
  }
  let folded = astralFolds.get(codePoint);
  if (folded === undefined) {
    folded = computeFold(codePoint);
    if (astralFolds.size < 4096) astralFolds.set(codePoint, folded);
  }
  return folded;
}

/**
 * The characters that may fold (see `foldOf`): Latin-1 punctuation and superscripts, the grapheme joiner, the general
 * punctuation to enclosed alphanumerics blocks, ideographic space, presentation and full-width forms, the high
 * surrogate of the mathematical alphanumerics, and the invisible characters elsewhere. One regex search skips
 * ASCII and other scripts (accents, CJK) at once; each character it finds is then looked up.
 */
// U+034F (a combining character, so not inside the class) is an alternative of its own.
const MAY_FOLD =
  /\u034f|[\u00a0-\u00bf\u061c\u115f\u1160\u17b4\u17b5\u180e\u2000-\u2bff\u2e3a\u2e3b\u3000\ufb00-\uffff\ud835]/g;
/** Longest fold kept (`⑽` is `(10)`); longer compatibility forms are left as they are. */
const MAX_FOLD = 4;

export function foldText(text: string): FoldedText {
  MAY_FOLD.lastIndex = 0;
  let match = MAY_FOLD.exec(text);
  if (match === null) return { text };
  const length = text.length;
  let starts = new Int32Array(length + 16);
  let ends = new Int32Array(length + 16);
  const parts: string[] = [];
  /** Next unread character of `text`, and the length of the folded text so far. */
  let copied = 0;
  let out = 0;
  const grow = (need: number) => {
    if (need <= starts.length) return;
    const size = Math.max(need, starts.length * 2);
    const s = new Int32Array(size);
    s.set(starts);
    starts = s;
    const e = new Int32Array(size);
    e.set(ends);
    ends = e;
  };
  while (match !== null) {
    const at = match.index;
    const code = text.codePointAt(at) as number;
    const width = code > 0xffff ? 2 : 1;
    const folded = foldOf(code);
    if (folded !== null && folded.length <= MAX_FOLD) {
      // The unchanged run before it, then the fold: each folded character maps back to the one it came from.
      const run = at - copied;
      grow(out + run + folded.length);
      for (let k = 0; k < run; k++) {
        starts[out + k] = copied + k;
        ends[out + k] = copied + k + 1;
      }
      out += run;
      if (run > 0) parts.push(text.slice(copied, at));
      for (let k = 0; k < folded.length; k++) {
        starts[out + k] = at;
        ends[out + k] = at + width;
      }
      out += folded.length;
      if (folded !== '') parts.push(folded);
      copied = at + width;
    }
    MAY_FOLD.lastIndex = at + width;
    match = MAY_FOLD.exec(text);
  }
  if (copied === 0 && parts.length === 0) return { text };
  const run = length - copied;
  grow(out + run);
  for (let k = 0; k < run; k++) {
    starts[out + k] = copied + k;
    ends[out + k] = copied + k + 1;
  }
  out += run;
  parts.push(text.slice(copied));
  return { text: parts.join(''), starts: starts.subarray(0, out), ends: ends.subarray(0, out) };
}
