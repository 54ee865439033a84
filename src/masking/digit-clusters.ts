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
  scanFrom(text, 0, text.length, 0, visit, { start: 0, end: 0, digits: 0, dots: 0, gaps: 0 });
}

/** What numeric values are written with: digits, spaces, `.`, `-`, parentheses and `+`. */
export const RUN_CHARACTERS = '0123456789 .-()+';
const RUN = new Uint8Array(128);
for (const c of RUN_CHARACTERS) RUN[c.charCodeAt(0)] = 1;

/**
 * Visits the clusters at least `minRun` characters long, the only places a numeric value of that length can be (a
 * value lies inside one cluster); they lie in runs of at least `minRun` characters of the RUN set. A skip search:
 * a run that long beginning at `floor` or after it and before the next probe covers the probe `floor + minRun - 1`,
 * so the scan reads the probe and back from it, and on the first character outside RUN, the run can only begin
 * after that character: the next probe is `minRun` further on from there. Ordinary text is read a fraction of a
 * time (a lower-case letter skips `minRun` characters at once), and no character is read twice: what lies between
 * the floor and the last probe is known to be RUN. That is what keeps the numeric detectors' cost well under one
 * pass of the text. Where `minRun` RUN characters begin at the floor (not at a space: the spaces before a date
 * do not make its run long enough), the floor is the beginning of their run and a character outside any cluster,
 * and the scan goes on from there until it is outside a cluster again, so every cluster it visits is the very one
 * a full scan yields. Clusters that begin with `+` are also visited from `plusRun` characters on (international
 * phone numbers are shorter than any other value): `+` is rare, so they are found with indexOf. Test `run scan`
 * holds this against `scanDigitClusters`.
 *
 * `[from, to)`, when given, must hold every run of at least `minRun` RUN characters whose clusters the caller needs
 * visited, `from` being where one begins (at 0 or after a character outside RUN): a cluster long enough lies in
 * such a run, so none of those is missed (`Redactor.survey` finds the runs). Clusters beginning with `+` are still
 * looked for in the whole text.
 */
export function scanRunClusters(
  text: string,
  minRun: number,
  visit: (cluster: DigitCluster) => void,
  plusRun = minRun,
  from = 0,
  to = text.length,
): void {
  const cluster: ScratchCluster = { start: 0, end: 0, digits: 0, dots: 0, gaps: 0 };
  /** Outside any cluster; every cluster long enough that begins before it has been visited. */
  let floor = from;
  /** `text[floor, known)` are RUN characters. */
  let known = from;
  while (floor + minRun <= to) {
    const probe = floor + minRun - 1;
    let j = probe;
    for (; j >= known; j--) {
      const c = text.charCodeAt(j);
      // Every RUN character is at most `9`: letters fail the first test.
      if (c > 57 || RUN[c] === 0) break;
    }
    if (j >= known) {
      floor = j + 1;
      known = probe + 1;
      continue;
    }
    if (text.charCodeAt(floor) === 32) {
      floor++;
      if (known < floor) known = floor;
      continue;
    }
    // The next cluster long enough holds a character from where the scan stopped on.
    floor = scanFrom(text, floor, floor + minRun, minRun, visit, cluster);
    known = floor;
  }
  if (plusRun >= minRun) return;
  for (let plus = text.indexOf('+'); plus !== -1; plus = text.indexOf('+', plus + 1)) {
    // `+` ends any cluster before it, so the scan is outside one here; the longer clusters were visited above.
    scanFrom(text, plus, plus + 1, plusRun, (found) => found.end - found.start < minRun && visit(found), cluster);
  }
}

/**
 * The cluster scan from `i` (outside any cluster) up to the first gap at or after `until`, visiting clusters of at
 * least `minLength` characters; returns where it stopped.
 */
function scanFrom(
  text: string,
  i: number,
  until: number,
  minLength: number,
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
    if (digits >= 2 && end - start >= minLength) {
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
 * Runs a detector's sticky regex at each place in one cluster where a value can begin: a digit, `+` or `(` not after
 * a character its look-behind forbids (`forbidden`). The same matches as running the regex with the `g` flag over
 * the cluster: after a match it goes on from the match's end, after a miss from the next character. Hand-written
 * rather than a global regex over a slice of the cluster: no string is made per cluster, and the regex is only tried
 * where its look-behind holds (after a space or a parenthesis, mostly), not at every digit. A match cannot leave
 * the cluster (every pattern ends on a digit, and the digits after a cluster's end are not joined to it), so one
 * that would is not possible, only checked.
 */
export function findInCluster(
  text: string,
  cluster: DigitCluster,
  sticky: RegExp,
  forbidden: Uint8Array,
  accept: (match: RegExpExecArray) => boolean,
  detector: Detector,
  out: Match[],
): void {
  const end = cluster.end;
  let before = cluster.start === 0 ? 32 : text.charCodeAt(cluster.start - 1);
  for (let at = cluster.start; at < end; ) {
    const c = text.charCodeAt(at);
    if (!((c >= 48 && c <= 57) || c === 43 || c === 40) || (before < 128 && forbidden[before] === 1)) {
      before = c;
      at++;
      continue;
    }
    sticky.lastIndex = at;
    const m = sticky.exec(text);
    if (m === null) {
      before = c;
      at++;
      continue;
    }
    const matchEnd = at + m[0].length;
    if (matchEnd <= end && accept(m)) out.push({ start: at, end: matchEnd, detector });
    if (matchEnd === at) {
      before = c;
      at++;
    } else {
      before = text.charCodeAt(matchEnd - 1);
      at = matchEnd;
    }
  }
}
