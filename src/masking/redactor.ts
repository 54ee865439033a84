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
   * them joined by line breaks: every detector has a fixed cost per call, which dominates on short values. A line
   * break is what each detector already treats like the end of a text (no value spans one except a private-key
   * block); a find that crosses from one text into the next would also change how overlaps resolve, so when there
   * is one, the texts are masked one by one instead. Test `joined scan` holds this against `mask`.
   */
  maskEach(texts: readonly string[], counts: MaskCounts): readonly string[] {
    if (texts.length < 2) return texts.map((text) => this.mask(text, counts));
    const joined = texts.join('\n');
    const found = this.collect(joined);
    if (found.length === 0) return texts;
    found.sort(byStart);
    // Each find must end within the text it starts in.
    let k = 0;
    let end = (texts[0] as string).length;
    for (const match of found) {
      while (match.start > end) end += 1 + (texts[++k] as string).length;
      if (match.end > end) return texts.map((text) => this.mask(text, counts));
    }
    const matches = resolveOverlaps(found);
    const out: string[] = new Array(texts.length);
    let m = 0;
    let from = 0;
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i] as string;
      const to = from + text.length;
      if (m >= matches.length || (matches[m] as Match).start >= to) out[i] = text;
      else {
        const first = m;
        while (m < matches.length && (matches[m] as Match).start < to) m++;
        out[i] = this.apply(joined, matches.slice(first, m), counts, from, to);
      }
      from = to + 1;
    }
    return out;
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
