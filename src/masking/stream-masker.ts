import type { MaskCounts } from './counts.js';
import type { Match } from './detector.js';
import { foldText } from './folded-text.js';
import type { Redactor } from './redactor.js';

/** Longest run without whitespace held back (a JWT or token being streamed); longer runs cannot be one value. */
const MAX_RUN = 4096;
/** Longest stretch of separated groups held back (`GB82 WEST 1234 5698 7654 32`, `+1 (415) 555-2671`). */
const MAX_GROUPED = 64;
/** A private-key block is held from its BEGIN line until its END line, up to this size. */
const MAX_PEM = 17_000;
/** The complete END line of a private-key block. */
const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/;
/** A number group ending a word (`+1`, `(415)`, the `"+1` of `"phone":"+1 415 555 2671"` in JSON text). */
const GROUP = /(?:^|["'=:,[{])[+(]?[0-9A-Z()\-.]{1,8}$/;
/** A word that may be followed by ` = value` (see the secret detector's assignments). */
const ASSIGNED_NAME = /(?:pass(?:word|wd|phrase)?|pwd|secret|key|token)["']?$/i;

/**
 * Masks a stream of text chunks with a bounded look-behind: a value split across chunks is still caught. Each push
 * emits everything up to the start of the tail that could still be the beginning of a value (the trailing word, a
 * run of digit groups, a `password =` assignment, an unterminated private-key block) and holds only that tail.
 */
export class StreamMasker {
  private pending = '';

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {}

  /** Characters held back right now (for tests and metrics). */
  get held(): number {
    return this.pending.length;
  }

  push(chunk: string): string {
    // Joined, not `+`: join makes one flat string, while `+` makes a two-part one that every character read and
    // every regex must then go through (a quarter slower to scan).
    const text = this.pending.length === 0 ? chunk : [this.pending, chunk].join('');
    if (text.length === 0) return '';
    const matches = this.redactor.find(text);
    let cut = holdBackStart(text, text.length);
    // A value that runs past the cut is held whole, from the start of the word (or assignment) it belongs to.
    for (let i = matches.length - 1; i >= 0; i--) {
      const match = matches[i] as Match;
      if (match.end <= cut) break;
      if (match.start < cut) cut = Math.min(match.start, holdBackStart(text, match.start));
    }
    this.pending = text.slice(cut);
    const emitted: Match[] = [];
    for (const match of matches) {
      if (match.end > cut) break;
      emitted.push(match);
    }
    return this.redactor.apply(text, emitted, this.counts, 0, cut);
  }

  /** The end of the stream: everything held is masked and released. */
  end(): string {
    const text = this.pending;
    this.pending = '';
    return text.length === 0 ? '' : this.redactor.mask(text, this.counts);
  }
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 12 || code === 11 || isWideSpace(code);
}

/** Spaces outside ASCII that fold to a space for the detectors (folded-text.ts): they separate number groups too. */
function isWideSpace(code: number): boolean {
  return code === 0xa0 || code === 0x2007 || code === 0x202f || code === 0x3000;
}

/** Where the tail of `text[0, end)` that could begin a value starts. */
function holdBackStart(text: string, end: number): number {
  let start = end;
  while (start > 0 && end - start < MAX_RUN && !isSpace(text.charCodeAt(start - 1))) start--;
  // Extend left over single spaces between number groups or around an assignment's `=` / `:`.
  for (;;) {
    if (start < 2 || end - start > MAX_GROUPED) break;
    const space = text.charCodeAt(start - 1);
    if ((space !== 32 && space !== 9 && !isWideSpace(space)) || isSpace(text.charCodeAt(start - 2))) break;
    let previous = start - 1;
    while (previous > 0 && start - 1 - previous < 64 && !isSpace(text.charCodeAt(previous - 1))) previous--;
    // Folded, as the detectors see them: full-width or zero-width-laced groups are groups too.
    const word = foldText(text.slice(previous, start - 1)).text;
    const held = foldText(text.slice(start, end)).text;
    const grouped = GROUP.test(word) && (held === '' || /^[+(0-9A-Z]/.test(held));
    const assignment = /[=:]["']?$/.test(word) || /^["']?[=:]/.test(held) || (held === '' && ASSIGNED_NAME.test(word));
    if (!grouped && !assignment) break;
    start = previous;
  }
  const begin = lastPemBegin(text, end);
  if (begin !== -1 && begin < start && !PEM_END.test(text.slice(begin, end))) return begin;
  return start;
}

/**
 * The last `-----BEGIN` starting at or before `end` and less than MAX_PEM characters before it, or -1. Searched
 * forwards from `end - MAX_PEM` rather than with lastIndexOf, which reads back through the whole text when there is
 * none (every chunk of a stream, most of the time).
 */
function lastPemBegin(text: string, end: number): number {
  let last = -1;
  for (let at = text.indexOf('-----BEGIN', Math.max(0, end - MAX_PEM + 1)); at !== -1 && at <= end; ) {
    last = at;
    at = text.indexOf('-----BEGIN', at + 1);
  }
  return last;
}
