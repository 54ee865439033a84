import type { Detector, Match } from './detector.js';

/**
 * Numbers in text, found once for every numeric detector. A cluster is a run of digits joined by `.`, `-`, `(`,
 * `)` or single spaces before a digit (`+1 (415) 555-2671`, `4242 4242 4242 4242`, `10.0.0.1`), with a leading `+`
 * or `(`. Hand-written over char codes instead of a regex: it is the hottest loop of masking (logs are full of
 * small numbers) and a lookup-free scan runs several times faster than a regex tried at every digit.
 */
export interface DigitCluster {
  readonly start: number;
  /** Just after the last digit. */
  readonly end: number;
  readonly digits: number;
  readonly dots: number;
  /** Spaces and parentheses inside the run: places after which a value may begin (see `mayStart`). */
  readonly gaps: number;
}

/** The one cluster object a scan reuses (no allocation per number): valid only during the `visit` call. */
interface ScratchCluster {
  start: number;
  end: number;
  digits: number;
  dots: number;
  gaps: number;
}

export function scanDigitClusters(text: string, visit: (cluster: DigitCluster) => void): void {
  scanFrom(text, 0, text.length, visit, { start: 0, end: 0, digits: 0, dots: 0, gaps: 0 });
}

/** What numeric values are written with: digits, spaces, `.`, `-`, parentheses and `+`. */
const RUN = new Uint8Array(128);
for (const c of '0123456789 .-()+') RUN[c.charCodeAt(0)] = 1;

function inRun(code: number): boolean {
  return code < 128 && RUN[code] === 1;
}

/**
 * Visits the clusters inside runs of at least `minRun` characters of the RUN set, the only places a numeric value
 * of that length can be. Probes every `minRun`-th character and skips ahead on any other (a lower-case letter, a
 * colon, a line end), so ordinary text is read a fraction of a time: the hand-written skip search is what keeps the
 * numeric detectors' cost well under one pass of the text. Each long run is then scanned exactly, from a character
 * outside any cluster, so every cluster in it is the very one a full scan yields.
 */
export function scanRunClusters(text: string, minRun: number, visit: (cluster: DigitCluster) => void): void {
  const n = text.length;
  const cluster: ScratchCluster = { start: 0, end: 0, digits: 0, dots: 0, gaps: 0 };
  let floor = 0;
  let i = minRun - 1;
  while (i < n) {
    if (!inRun(text.charCodeAt(i))) {
      i += minRun;
      continue;
    }
    let from = i;
    while (from > floor && inRun(text.charCodeAt(from - 1))) from--;
    let to = i + 1;
    while (to < n && inRun(text.charCodeAt(to))) to++;
    if (to - from >= minRun) scanFrom(text, from, to, visit, cluster);
    floor = to;
    i = to + minRun;
  }
}

/** The cluster scan from `i` (outside any cluster) up to the first gap at or after `until`; returns where it stopped. */
function scanFrom(
  text: string,
  i: number,
  until: number,
  visit: (cluster: DigitCluster) => void,
  cluster: ScratchCluster,
): number {
  const n = text.length;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c < 48 || c > 57) {
      if (i >= until) return i;
      i++;
      continue;
    }
    let start = i;
    if (start > 0) {
      const before = text.charCodeAt(start - 1);
      if (before === 43 || before === 40) start--;
    }
    let digits = 0;
    let dots = 0;
    let gaps = 0;
    let end = i;
    while (i < n) {
      c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        digits++;
        end = ++i;
      } else if (c === 46 || c === 45) {
        if (c === 46) dots++;
        i++;
      } else if (c === 40 || c === 41) {
        gaps++;
        i++;
      } else if (c === 32 && i + 1 < n) {
        const next = text.charCodeAt(i + 1);
        if ((next >= 48 && next <= 57) || next === 40 || next === 43) {
          gaps++;
          i++;
        } else break;
      } else break;
    }
    if (digits >= 2) {
      cluster.start = start;
      cluster.end = end;
      cluster.digits = digits;
      cluster.dots = dots;
      cluster.gaps = gaps;
      visit(cluster);
    }
  }
  return i;
}

/** A table of ASCII characters a match may not follow (a regex look-behind as a lookup). */
export function charTable(chars: string, words = true): Uint8Array {
  const table = new Uint8Array(128);
  if (words)
    for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_') table[c.charCodeAt(0)] = 1;
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}

/**
 * Whether a match whose look-behind forbids the characters in `forbidden` can begin anywhere in the cluster: at its
 * start, after a leading `+` or `(`, or after a space or parenthesis inside it. A necessary condition only, checked
 * before running the detector's regex: most numbers in logs are inside ids (`ORD-2024-118812`, a UUID's tail).
 */
export function mayStart(text: string, cluster: DigitCluster, forbidden: Uint8Array): boolean {
  if (cluster.gaps > 0 || cluster.start === 0) return true;
  const before = text.charCodeAt(cluster.start - 1);
  if (before >= 128 || forbidden[before] === 0) return true;
  const first = text.charCodeAt(cluster.start);
  return (first === 43 || first === 40) && forbidden[first] === 0;
}

/**
 * Runs a detector's global regex over one cluster with two characters of context on each side (what its
 * look-behind and look-ahead need), shifting matches back to text offsets.
 */
export function findInSlice(
  text: string,
  cluster: DigitCluster,
  pattern: RegExp,
  accept: (match: RegExpExecArray) => boolean,
  detector: Detector,
  out: Match[],
): void {
  const from = Math.max(0, cluster.start - 2);
  const slice = text.slice(from, Math.min(text.length, cluster.end + 2));
  pattern.lastIndex = 0;
  for (let m = pattern.exec(slice); m !== null; m = pattern.exec(slice)) {
    const start = from + m.index;
    if (start < cluster.start || start + m[0].length > cluster.end) continue;
    if (accept(m)) out.push({ start, end: start + m[0].length, detector });
  }
}
