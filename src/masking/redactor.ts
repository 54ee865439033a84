import type { MaskCounts } from './counts.js';
import type { Detector, Match } from './detector.js';
import { mayStart, scanDigitClusters, scanRunClusters } from './digit-clusters.js';
import { type MaskStyle, renderMasked, type Tokenizer } from './styles.js';

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
  }

  /** Non-overlapping matches in text order. */
  find(text: string): Match[] {
    return resolveOverlaps(this.collect(text));
  }

  /** Every detector's finds, overlapping and in no order. */
  private collect(text: string): Match[] {
    const found: Match[] = [];
    for (const detector of this.textDetectors) detector.find(text, found);
    if (this.numericDetectors.length > 0) {
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
        );
      }
    }
    return found;
  }

  render(match: Match, value: string): string {
    return renderMasked(this.styleOf(match.detector.type), match.detector, value, this.tokenizer);
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
   * call, which dominates on short values.
   */
  findInValues(text: string, starts: ArrayLike<number>, ends: ArrayLike<number>, count: number): Match[] | undefined {
    const found = this.collect(text);
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
