import { type DigitCluster, findInCluster, mayStart, scanDigitClusters } from './digit-clusters.js';

/**
 * A detector finds one type of sensitive value in text. Candidates come from a regular expression (cheap, bounded);
 * `accept` validates each candidate (checksums, ranges, a phone-number library) to keep false positives low.
 */
export interface Detector {
  /** Stable type name used in config, counts and tokens: `email`, `card`... */
  readonly type: string;
  /** What full redaction writes: `[EMAIL]`. */
  readonly label: string;
  /** On when a profile names no detectors. */
  readonly defaultOn: boolean;
  /** Wins overlaps against detectors with a lower number (a JWT holding digits is one secret, not a phone). */
  readonly priority: number;
  /** Longest value it can match, in characters: bounds how much a streaming masker may hold back. */
  readonly maxLength: number;
  /** Appends every validated value in `text` to `out`. */
  find(text: string, out: Match[]): void;
  /**
   * Without `findInCluster`: ASCII characters at least one of which is in any text `find` finds a value in (what
   * its search is anchored on: `@` for email). A text holding none is not given to it (see `Redactor.survey`), so
   * this must hold for every text, valid value or not; test `survey` checks it. Undefined: every text is given.
   */
  readonly triggers?: string;
  /**
   * Numeric detectors also look at one digit cluster at a time, so the text is scanned for numbers once for all of
   * them (see digit-clusters.ts); `find` then is `scanDigitClusters` + this.
   */
  findInCluster?(text: string, cluster: DigitCluster, out: Match[]): void;
  /**
   * With `findInCluster`: the fewest characters a value it finds can have, all from digits, spaces and `.-()+`
   * (see `scanRunClusters`). Without it, every cluster is visited.
   */
  readonly minRun?: number;
  /**
   * With `minRun`: the fewest characters a value beginning with `+` can have, when that is fewer (international
   * phone numbers); clusters beginning with `+` are then visited from this length on.
   */
  readonly minPlusRun?: number;
  /**
   * With `findInCluster`: the characters a value may not directly follow (its look-behind, see `mayStart`). When
   * every numeric detector says, a cluster none of them may start in is not handed to any (most numbers in logs).
   */
  readonly notAfter?: Uint8Array;
  /**
   * For detectors defined by one regular expression: it and the check on each of its matches. `find` finds exactly
   * what `pattern` run with the `g` flag over the whole text finds where `accept` holds, however it gets there
   * (anchored searches, digit clusters); test `fast paths` holds it to that.
   */
  readonly regex?: { readonly pattern: RegExp; accept(match: RegExpExecArray): boolean };
  /** The partially masked form (`****4242`, `m***@example.com`). */
  partial(value: string): string;
  /** The form tokens are computed from, so `A@x.com` and `a@x.com` get the same token. */
  normalize(value: string): string;
}

/** One sensitive value: `[start, end)` of the text it was found in. */
export interface Match {
  start: number;
  end: number;
  detector: Detector;
}

/** Keeps the last `keep` characters: `****4242`. */
export function keepLast(value: string, keep: number): string {
  const chars = value.replace(/[^0-9A-Za-z]/g, '');
  return `****${chars.slice(-keep)}`;
}

export function digitsOf(value: string): string {
  return value.replace(/\D/g, '');
}

/**
 * A numeric detector: `find` scans the text's digit clusters and hands each to `findInCluster`, which runs `pattern`
 * only on clusters it `wants` and where a match can begin: `forbidden` holds what `pattern`'s look-behind rejects
 * (see `mayStart`), so the regex is not even tried on numbers inside ids. `pattern` (with the `g` flag) must match
 * digits, `+`, `(` and separators only and end on a digit, so that its matches lie inside clusters.
 */
export function clusterDetector(
  base: Omit<Detector, 'find' | 'findInCluster'> & { readonly minRun: number },
  wants: (cluster: DigitCluster, text: string) => boolean,
  forbidden: Uint8Array,
  pattern: RegExp,
  accept: (match: RegExpExecArray) => boolean,
): Detector {
  const sticky = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}y`);
  const detector: Detector = {
    ...base,
    notAfter: forbidden,
    regex: { pattern, accept },
    find(text, out) {
      scanDigitClusters(text, (cluster) => detector.findInCluster?.(text, cluster, out));
    },
    findInCluster(text, cluster, out) {
      if (!wants(cluster, text) || !mayStart(text, cluster, forbidden)) return;
      findInCluster(text, cluster, sticky, forbidden, accept, detector, out);
    },
  };
  return detector;
}
