import type { MaskCounts } from './counts.js';
import type { Detector, Match } from './detector.js';
import { scanDigitClusters, scanRunClusters } from './digit-clusters.js';
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
  }

  /** Non-overlapping matches in text order. */
  find(text: string): Match[] {
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
      else
        scanRunClusters(text, this.minRun, (cluster) => {
          for (const detector of numeric) detector.findInCluster?.(text, cluster, found);
        });
    }
    if (found.length < 2) return found;
    found.sort(
      (a, b) => a.start - b.start || b.detector.priority - a.detector.priority || b.end - b.start - (a.end - a.start),
    );
    const kept: Match[] = [];
    for (const match of found) {
      const last = kept[kept.length - 1];
      if (last === undefined || match.start >= last.end) {
        kept.push(match);
        continue;
      }
      // Overlap: the higher priority (then longer) find wins.
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
}
