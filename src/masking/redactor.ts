import type { MaskCounts } from './counts.js';
import type { Detector, Match } from './detector.js';
import { mayStart, RUN_CHARACTERS, scanDigitClusters, scanRunClusters } from './digit-clusters.js';
import { foldText } from './folded-text.js';
import { type MaskStyle, renderMasked, type Tokenizer } from './styles.js';

/**
 * Bits of `Redactor.byteClass`: a RUN character; a byte outside ASCII; a byte that alone makes a numeric value
 * possible; OPEN_BIT (see `Redactor.survey`); then one bit per text detector the byte is a trigger of.
 */
const RUN_BIT = 1;
const NON_ASCII_BIT = 2;
const NUMERIC_BIT = 4;
const OPEN_BIT = 8;
const FIRST_DETECTOR_BIT = 4;
/** Text detectors beyond this many are always run (the bits of one int32). */
const MAX_TRIGGERED = 31 - FIRST_DETECTOR_BIT;
/** The bits that say a detector may find something. */
const MAY_FIND = ~(RUN_BIT | NON_ASCII_BIT | OPEN_BIT);

/**
 * What one pass over a text's bytes found (see `Redactor.survey`): which detectors can find anything in it. One
 * survey covers the several ranges of one text, each surveyed in turn.
 */
export class Survey {
  /** The byte classes seen, or'ed together (`Redactor.byteClass`). */
  seen = 0;
  /** Where the runs of RUN characters long enough for a numeric value lie, in text offsets; -1 when there are none. */
  runFrom = -1;
  runTo = -1;

  reset(): void {
    this.seen = 0;
    this.runFrom = -1;
    this.runTo = -1;
  }

  /** A byte outside ASCII was seen: the bytes are not the text's characters, and the survey says nothing. */
  get ascii(): boolean {
    return (this.seen & NON_ASCII_BIT) === 0;
  }
}

/**
 * Finds sensitive values in a piece of text with a set of detectors and writes them out in each type's style.
 * Overlapping finds are resolved by detector priority, then length: one value is masked once, as one type.
 */
export class Redactor {
  readonly detectors: readonly Detector[];
  /** Longest value any detector matches: what a streaming masker may ever need to hold back. */
  readonly maxLength: number;
  /** Numeric detectors share one scan for digit clusters; the others scan the text themselves. */
  private readonly textDetectors: readonly Detector[];
  private readonly numericDetectors: readonly Detector[];
  /** The shortest value any numeric detector finds; undefined when one of them does not say (every cluster). */
  private readonly minRun: number | undefined;
  /** The shortest value beginning with `+` any numeric detector finds (see `Detector.minPlusRun`). */
  private readonly plusRun: number;
  /** Characters no numeric value may follow (what all their look-behinds forbid); undefined if one does not say. */
  private readonly notAfter: Uint8Array | undefined;
  /**
   * Each byte's class for `survey`: RUN_BIT, NON_ASCII_BIT, NUMERIC_BIT where the byte alone makes a numeric value
   * possible, OPEN_BIT, and the bit (FIRST_DETECTOR_BIT + k) of each text detector k it is a trigger of.
   */
  private readonly byteClass = new Int32Array(256);
  /** The bits of text detectors that every text is given to (no triggers, or too many detectors). */
  private untriggered = 0;

  constructor(
    detectors: readonly Detector[],
    private readonly styleOf: (type: string) => MaskStyle,
    private readonly tokenizer?: Tokenizer,
  ) {
    this.detectors = [...detectors].sort((a, b) => b.priority - a.priority);
    this.textDetectors = this.detectors.filter((d) => d.findInCluster === undefined);
    this.numericDetectors = this.detectors.filter((d) => d.findInCluster !== undefined);
    this.maxLength = Math.max(0, ...detectors.map((d) => d.maxLength));
    const runs = this.numericDetectors.map((d) => d.minRun);
    this.minRun = runs.includes(undefined) ? undefined : Math.max(1, Math.min(...(runs as number[])));
    this.plusRun = Math.max(1, Math.min(...this.numericDetectors.map((d) => d.minPlusRun ?? d.minRun ?? 1)));
    const tables = this.numericDetectors.map((d) => d.notAfter);
    this.notAfter = tables.includes(undefined) ? undefined : intersect(tables as Uint8Array[]);
    const byteClass = this.byteClass;
    const mark = (characters: string, bit: number) => {
      for (const c of characters) byteClass[c.charCodeAt(0)] = (byteClass[c.charCodeAt(0)] as number) | bit;
    };
    for (let c = 128; c < 256; c++) byteClass[c] = NON_ASCII_BIT;
    mark(RUN_CHARACTERS, RUN_BIT);
    if (this.numericDetectors.length > 0) {
      // Without minRun every cluster is scanned for: a digit makes one possible. With it, the runs do (see
      // `survey`), and `+` does where shorter clusters beginning with it are scanned for.
      if (this.minRun === undefined) mark('0123456789', NUMERIC_BIT);
      else if (this.plusRun < this.minRun) mark('+', NUMERIC_BIT);
    }
    // OPEN_BIT: outside RUN, a character a numeric value may follow; inside, one that lets a value begin later in
    // the run than its first digit: a gap (`mayStart`) or a character a value may follow. Without `notAfter` any
    // character may precede a value.
    const notAfter = this.notAfter;
    for (let c = 0; c < 256; c++) {
      const digit = c >= 48 && c <= 57;
      const gap = c === 32 || c === 40 || c === 41;
      const followable = notAfter === undefined || c >= 128 || notAfter[c] === 0;
      if (!digit && (gap || followable)) byteClass[c] = (byteClass[c] as number) | OPEN_BIT;
    }
    this.textDetectors.forEach((detector, k) => {
      if (k >= MAX_TRIGGERED) return;
      const bit = 1 << (FIRST_DETECTOR_BIT + k);
      if (detector.triggers === undefined) this.untriggered |= bit;
      else mark(detector.triggers, bit);
    });
  }

  /**
   * Adds what the ASCII bytes `bytes[from, to)`, lying at `at` in a text, tell about the text to `survey`: which
   * text detectors' triggers are there (see `Detector.triggers`), and where the runs of RUN characters are in
   * which the shared scan for numbers can find a value (see `scanRunClusters`); a text in which no detector can
   * find anything is then neither decoded nor scanned (most values of a wide row: ids, hashes, names). By hand:
   * a regex or an indexOf per trigger character would each read the whole text, and no library answers "which of
   * these characters occur".
   *
   * A run counts when it is at least minRun long and "open": after a character a numeric value may follow, or
   * holding a character with OPEN_BIT. A run that is not open holds only digits and separators in `notAfter`
   * (`.`, `-`), after a character in `notAfter`: that is one digit cluster without gaps, beginning at its first
   * digit after a character in `notAfter`, which `mayStart` rejects, so no numeric detector is given it (the
   * digit runs inside hex ids). The start of a range counts as open. Returns the classes of the range's bytes,
   * or'ed together (see `mayFindInClasses`).
   */
  survey(bytes: Uint8Array, from: number, to: number, at: number, survey: Survey): number {
    const byteClass = this.byteClass;
    // Most values of a wide row (ids, hashes, codes) hold no OPEN character. Then the only run that can be open is
    // the one the range begins with, and a pass that only ors the classes together says the rest: it does about
    // half the work per byte of the pass that follows runs. When that pass saw an OPEN character, the
    // run-following pass takes over from the start of the run the first one is in (what comes before is known).
    let seen = 0;
    let b = from;
    // Four bytes a step: V8 does not unroll loops, and the loop's own work is most of this one's.
    for (; b + 4 <= to; b += 4)
      seen |=
        (byteClass[bytes[b] as number] as number) |
        (byteClass[bytes[b + 1] as number] as number) |
        (byteClass[bytes[b + 2] as number] as number) |
        (byteClass[bytes[b + 3] as number] as number);
    for (; b < to; b++) seen |= byteClass[bytes[b] as number] as number;
    let i = to;
    if ((seen & OPEN_BIT) !== 0) {
      i = from;
      while (((byteClass[bytes[i] as number] as number) & OPEN_BIT) === 0) i++;
    }
    let resume = i;
    if (i < to) while (resume > from && ((byteClass[bytes[resume - 1] as number] as number) & RUN_BIT) !== 0) resume--;
    if (resume > from || i === to) {
      // The range's first run, open as every range's start is, and ended before `resume`.
      let end = from;
      while (end < resume && ((byteClass[bytes[end] as number] as number) & RUN_BIT) !== 0) end++;
      if (this.minRun !== undefined && end - from >= this.minRun) {
        if (survey.runFrom === -1) survey.runFrom = at;
        survey.runTo = end - from + at;
      }
    }
    survey.seen |= seen;
    // Before `resume` comes a character neither RUN nor OPEN (or the range's start): nothing open carries over.
    if (i < to) this.surveyByteByByte(bytes, resume, to, at - from, resume === from, survey);
    return seen;
  }

  /**
   * The survey of `bytes[from, to)` following every run (see `survey`), `openAtStart` saying whether a run
   * beginning at `from` is open; `shift` turns byte offsets into text offsets. Run and openness are kept without a
   * branch on the byte: RUN characters are most of hex and numeric text, where such a branch is mispredicted often.
   */
  surveyByteByByte(
    bytes: Uint8Array,
    from: number,
    to: number,
    shift: number,
    openAtStart: boolean,
    survey: Survey,
  ): void {
    const byteClass = this.byteClass;
    let open = openAtStart ? OPEN_BIT : 0;
    // A run longer than `limit` can hold a value; without minRun, digits alone say (NUMERIC_BIT).
    const limit = this.minRun === undefined ? 0x7fffffff : this.minRun - 1;
    let seen = 0;
    let run = 0;
    for (let i = from; i < to; i++) {
      const k = byteClass[bytes[i] as number] as number;
      seen |= k;
      /** -1 in a run, 0 outside. */
      const inRun = -(k & RUN_BIT);
      run = (run + 1) & inRun;
      // In a run: whether it is open so far. Outside: whether a run beginning next would be.
      open = ((open & inRun) | k) & OPEN_BIT;
      if (run > limit && open !== 0) {
        if (survey.runFrom === -1) survey.runFrom = i - run + 1 + shift;
        survey.runTo = i + 1 + shift;
      }
    }
    survey.seen |= seen;
  }

  /**
   * Whether any detector can find anything in a text whose bytes' classes are `seen` (as `survey` returns them) and
   * in which the survey found no run: a text outside ASCII always may.
   */
  mayFindInClasses(seen: number): boolean {
    if (this.untriggered !== 0 || this.textDetectors.length > MAX_TRIGGERED) return true;
    return (seen & (MAY_FIND | NON_ASCII_BIT)) !== 0;
  }

  /** Non-overlapping matches in text order. */
  find(text: string): Match[] {
    return resolveOverlaps(this.collect(text));
  }

  /**
   * Every detector's finds, overlapping and in no order. With the text's `survey` (ASCII), only the detectors that
   * can find anything are run, and the numbers are looked for in the runs it found.
   */
  private collect(text: string, survey?: Survey): Match[] {
    // Outside ASCII, detectors look at the folded view (full-width digits, zero-width characters, dash and space
    // variants: see folded-text.ts) and their finds are mapped back onto the original text.
    if (survey === undefined || !survey.ascii) {
      const folded = foldText(text);
      const { starts, ends } = folded;
      if (starts !== undefined && ends !== undefined) {
        const found = this.collectAscii(folded.text);
        for (const match of found) {
          match.end = ends[match.end - 1] as number;
          match.start = starts[match.start] as number;
        }
        return found;
      }
    }
    return this.collectAscii(text, survey);
  }

  private collectAscii(text: string, survey?: Survey): Match[] {
    const found: Match[] = [];
    const possible = survey === undefined ? -1 : survey.seen | this.untriggered;
    const detectors = this.textDetectors;
    for (let k = 0; k < detectors.length; k++)
      if (k >= MAX_TRIGGERED || (possible & (1 << (FIRST_DETECTOR_BIT + k))) !== 0)
        (detectors[k] as Detector).find(text, found);
    // Where the scan for numbers looks for clusters of at least minRun characters: the whole text, or the runs.
    let runFrom = 0;
    let runTo = text.length;
    if (survey !== undefined) {
      runFrom = survey.runFrom === -1 ? 0 : survey.runFrom;
      // Held to the text: a run past its end would be read as RUN characters there (NaN), without end.
      runTo = survey.runFrom === -1 ? 0 : Math.min(survey.runTo, text.length);
    }
    if (this.numericDetectors.length > 0 && (runTo > runFrom || (possible & NUMERIC_BIT) !== 0)) {
      const numeric = this.numericDetectors;
      // Arrows passed inline, not named: under tsx (esbuild keepNames) a named local function costs a
      // defineProperty on every call.
      if (this.minRun === undefined)
        scanDigitClusters(text, (cluster) => {
          for (const detector of numeric) detector.findInCluster?.(text, cluster, found);
        });
      else {
        const notAfter = this.notAfter;
        scanRunClusters(
          text,
          this.minRun,
          (cluster) => {
            if (notAfter !== undefined && !mayStart(text, cluster, notAfter)) return;
            const length = cluster.end - cluster.start;
            const plus = text.charCodeAt(cluster.start) === 43;
            for (const detector of numeric) {
              const shortest = plus ? (detector.minPlusRun ?? detector.minRun) : detector.minRun;
              if (length >= (shortest as number)) detector.findInCluster?.(text, cluster, found);
            }
          },
          this.plusRun,
          runFrom,
          runTo,
        );
      }
    }
    return found;
  }

  render(match: Match, value: string): string {
    // The folded form, so `５５５…` keeps its last digits in partial style and gets the same token as `555…`.
    return renderMasked(this.styleOf(match.detector.type), match.detector, foldText(value).text, this.tokenizer);
  }

  /** Masks `text[from, to)` given its matches (sorted, inside the range); counts what it masked. */
  apply(text: string, matches: readonly Match[], counts: MaskCounts, from = 0, to = text.length): string {
    if (matches.length === 0) return from === 0 && to === text.length ? text : text.slice(from, to);
    let out = '';
    let at = from;
    for (const match of matches) {
      out += text.slice(at, match.start) + this.render(match, text.slice(match.start, match.end));
      counts.add(match.detector.type);
      at = match.end;
    }
    return out + text.slice(at, to);
  }

  /** Masks a whole, finished piece of text. */
  mask(text: string, counts: MaskCounts): string {
    return this.apply(text, this.find(text), counts);
  }

  /**
   * Masks several separate texts (the text columns of one SQL row), each exactly as `mask` would, with one scan of
   * them joined by line breaks: every detector has a fixed cost per call, which dominates on short values. See
   * `findInValues`; when a find crosses from one text into the next, the texts are masked one by one instead.
   * Test `joined scan` holds this against `mask`.
   */
  maskEach(texts: readonly string[], counts: MaskCounts): readonly string[] {
    if (texts.length < 2) return texts.map((text) => this.mask(text, counts));
    const joined = texts.join('\n');
    const starts = new Array<number>(texts.length);
    const ends = new Array<number>(texts.length);
    let from = 0;
    for (let i = 0; i < texts.length; i++) {
      starts[i] = from;
      ends[i] = from + (texts[i] as string).length;
      from = (ends[i] as number) + 1;
    }
    const matches = this.findInValues(joined, starts, ends, texts.length);
    if (matches === undefined) return texts.map((text) => this.mask(text, counts));
    if (matches.length === 0) return texts;
    const out: string[] = new Array(texts.length);
    let m = 0;
    for (let i = 0; i < texts.length; i++) {
      const first = m;
      while (m < matches.length && (matches[m] as Match).start < (ends[i] as number)) m++;
      out[i] =
        m === first
          ? (texts[i] as string)
          : this.apply(joined, matches.slice(first, m), counts, starts[i] as number, ends[i] as number);
    }
    return out;
  }

  /**
   * The matches of separate values lying in one text at `[starts[k], ends[k])` for `k < count` (in order), with
   * only line breaks between them, as finding in each value on its own finds them: non-overlapping, in text order.
   * A line break is what each detector already treats like the end of a text, however many there are (no value
   * spans one except a private-key block), so a value's neighbours change nothing in it. A find that crosses from
   * one value into the next would, and would also change how overlaps resolve: then the answer is undefined, and
   * the values must be masked one by one. One scan for many short values: every detector has a fixed cost per
   * call, which dominates on short values. With the text's `survey` (ASCII only), only what it leaves possible is
   * looked for; test `survey` holds that against looking for everything.
   */
  findInValues(
    text: string,
    starts: ArrayLike<number>,
    ends: ArrayLike<number>,
    count: number,
    survey?: Survey,
  ): Match[] | undefined {
    const found = this.collect(text, survey);
    if (found.length === 0) return found;
    found.sort(byStart);
    // Each find must lie within one value.
    let k = 0;
    for (const match of found) {
      while (k < count && match.start >= (ends[k] as number)) k++;
      if (k === count || match.start < (starts[k] as number) || match.end > (ends[k] as number)) return undefined;
    }
    // Finds in different values do not overlap: resolving them all at once resolves each value's on their own.
    return resolveOverlaps(found);
  }
}

/** Text order; at one place the higher priority, then the longer, first. */
const byStart = (a: Match, b: Match) =>
  a.start - b.start || b.detector.priority - a.detector.priority || b.end - b.start - (a.end - a.start);

/** Overlapping finds resolved: the higher priority, then the longer, wins. Sorts `found`; returns text order. */
function resolveOverlaps(found: Match[]): Match[] {
  if (found.length < 2) return found;
  found.sort(byStart);
  const kept: Match[] = [];
  for (const match of found) {
    const last = kept[kept.length - 1];
    if (last === undefined || match.start >= last.end) {
      kept.push(match);
      continue;
    }
    const better =
      match.detector.priority > last.detector.priority ||
      (match.detector.priority === last.detector.priority && match.end - match.start > last.end - last.start);
    if (better) {
      kept.pop();
      while (kept.length > 0 && (kept[kept.length - 1] as Match).end > match.start) kept.pop();
      kept.push(match);
    }
  }
  return kept;
}

/** The characters every table holds: a cluster `mayStart` rejects with it, each detector's own table rejects too. */
function intersect(tables: readonly Uint8Array[]): Uint8Array {
  const common = new Uint8Array(128).fill(1);
  for (const table of tables) for (let c = 0; c < 128; c++) common[c] = (common[c] as number) & (table[c] as number);
  return common;
}
