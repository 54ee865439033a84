import type { Detector, Match } from '../detector.js';

/**
 * Credentials: cloud access keys, GitHub and Slack tokens, JWTs, PEM private-key blocks, `sk-` style API keys and
 * `password=` / `secret:` assignments (only the assigned value is masked). Each kind is a table row with the prefix
 * its values begin with, so text without any of them costs one indexOf per kind.
 */
export interface SecretKind {
  /**
   * What every value of this kind begins with (after its look-behind), one string of allowed characters per
   * position: `['sr', 'k', '-_']` for `sk-`/`rk_`. It may allow more than `pattern` does; `pattern` decides.
   */
  readonly prefix: readonly string[];
  /** The position in `prefix` of its rarest character, searched for with indexOf (see `findKinds`). */
  readonly anchor: number;
  readonly pattern: RegExp;
  /** Extra check on the value. */
  readonly accept?: (value: string) => boolean;
}

/** Names whose assigned value is a secret; matched at the end of the word before `=` / `:` (`DB_PASSWORD=`). */
const ASSIGNED_NAME =
  /(?:^|[_-])(?:password|passwd|pwd|passphrase|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key|aws_secret_access_key)$/i;
/** The last letters of ASSIGNED_NAME's names (d, e, t, y, n in either case): a cheap test before the regex. */
const NAME_LAST = new Uint8Array(128);
for (const c of 'deytnDEYTN') NAME_LAST[c.charCodeAt(0)] = 1;
/** A placeholder or a reference is not a secret value. */
const PLACEHOLDER = /^(?:\*+|x+|null|none|true|false|\$\{[^}]*\}?|\$[A-Z_]+|%[^%]+%|<[^>]*>?)$/i;

/** Exported for test `fast paths`, which runs each pattern over whole texts to check `findKinds` against. */
export const KINDS: readonly SecretKind[] = [
  {
    prefix: ['A', 'KSBC', 'IC', 'AC'],
    anchor: 0,
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/g,
  },
  {
    prefix: ['g', 'h', 'pousr', '_'],
    anchor: 3,
    pattern: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])/g,
  },
  {
    prefix: [...'github_pat_'],
    anchor: 6,
    pattern: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,244}(?![A-Za-z0-9_])/g,
  },
  {
    prefix: ['x', 'o', 'x', 'abposre', '-'],
    anchor: 0,
    pattern: /(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g,
  },
  {
    prefix: ['e', 'y', 'J'],
    anchor: 2,
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_.-])/g,
  },
  {
    prefix: [...'-----BEGIN '],
    anchor: 5,
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{1,16384}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g,
  },
  {
    prefix: ['sr', 'k', '-_'],
    anchor: 1,
    pattern: /(?<![A-Za-z0-9_-])(?:sk|rk)[-_](?:live_|test_|proj-|ant-|or-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
    // API keys are random: digits and letters mixed, not a kebab-case name such as sk-build-cache-for-release.
    accept: (value) => /\d/.test(value) && /[A-Za-z]/.test(value) && (value.match(/[-_]/g)?.length ?? 0) <= 4,
  },
];

/** Sticky copies of the patterns: each is tried only where its kind's prefix is. */
const STICKY = KINDS.map((kind) => new RegExp(kind.pattern.source, `${kind.pattern.flags.replace('g', '')}y`));
/** Each kind's prefix as one table of allowed ASCII characters per position. */
const PREFIX_TABLES = KINDS.map((kind) =>
  kind.prefix.map((allowed) => {
    const table = new Uint8Array(128);
    for (const c of allowed) table[c.charCodeAt(0)] = 1;
    return table;
  }),
);

/**
 * Each kind's prefix is found by indexOf on its rarest character (`J` of `eyJ`, `_` of `ghp_`), checked around it
 * by hand, and only then is the kind's pattern run sticky there. Hand-written because indexOf of one character is
 * a memchr, many times faster than one regex alternation of all the prefixes, which is tried at every position.
 * The same matches as running every pattern over the whole text: a kind resumes after its own previous match, as
 * a global regex does, and its pattern can only match where its prefix is.
 */
function findKinds(text: string, out: Match[]): void {
  for (let k = 0; k < KINDS.length; k++) {
    const kind = KINDS[k] as SecretKind;
    const sticky = STICKY[k] as RegExp;
    const { prefix, anchor } = kind;
    const tables = PREFIX_TABLES[k] as Uint8Array[];
    const anchorChar = prefix[anchor] as string;
    let resume = 0;
    for (let hit = text.indexOf(anchorChar, anchor); hit !== -1; hit = text.indexOf(anchorChar, hit + 1)) {
      const at = hit - anchor;
      if (at < resume || !prefixAt(text, at, tables)) continue;
      sticky.lastIndex = at;
      const found = sticky.exec(text);
      if (found === null) continue;
      resume = at + found[0].length;
      if (kind.accept && !kind.accept(found[0])) continue;
      out.push({ start: at, end: resume, detector: secret });
    }
  }
}

function prefixAt(text: string, at: number, tables: readonly Uint8Array[]): boolean {
  if (at + tables.length > text.length) return false;
  for (let i = 0; i < tables.length; i++) {
    const c = text.charCodeAt(at + i);
    if (c >= 128 || (tables[i] as Uint8Array)[c] === 0) return false;
  }
  return true;
}

export const secret: Detector = {
  type: 'secret',
  label: '[SECRET]',
  defaultOn: true,
  priority: 100,
  maxLength: 17_000,
  // `findAssignments` looks only at each `=` and `:`, `findKinds` only where a kind's anchor character is.
  triggers: `=:${KINDS.map((kind) => kind.prefix[kind.anchor]).join('')}`,
  find(text: string, out: Match[]): void {
    findAssignments(text, out);
    findKinds(text, out);
  },
  partial: (value) => (value.length > 12 ? `${value.slice(0, 4)}****` : '****'),
  normalize: (value) => value,
};

const isNameChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
const isSpaceOrTab = (c: number) => c === 32 || c === 9;
const isQuote = (c: number) => c === 34 || c === 39;
/** Characters that end an assigned value; a value does not end in closing brackets or a full stop either. */
const ENDS_VALUE = new Set([32, 9, 10, 13, 34, 39, 60, 62, 44, 59, 38]);
const NOT_LAST = new Set([41, 93, 125, 46]);

/**
 * `password=...`, `DB_PASSWORD: "..."`, `client_secret = ...`: only the value is masked. Hand-written around each
 * `=` and `:` (found with indexOf), because a case-insensitive alternation of names is tried at every position.
 */
export function findAssignments(text: string, out: Match[]): void {
  let equals = text.indexOf('=');
  let colon = text.indexOf(':');
  while (equals !== -1 || colon !== -1) {
    const at = colon === -1 || (equals !== -1 && equals < colon) ? equals : colon;
    const next = assignmentAt(text, at, out);
    if (equals !== -1 && equals < next) equals = text.indexOf('=', next);
    if (colon !== -1 && colon < next) colon = text.indexOf(':', next);
  }
}

/** The assignment whose `=` or `:` is at `at`, if any; returns where to look for the next one. */
function assignmentAt(text: string, at: number, out: Match[]): number {
  let j = at;
  if (j > 0 && isQuote(text.charCodeAt(j - 1))) j--;
  while (j > 0 && at - j < 4 && isSpaceOrTab(text.charCodeAt(j - 1))) j--;
  if (j > 0 && isQuote(text.charCodeAt(j - 1))) j--;
  const nameEnd = j;
  // Most `:` follow a digit (clock times) or a word no secret name ends like.
  const last = nameEnd > 0 ? text.charCodeAt(nameEnd - 1) : 0;
  if (last >= 128 || NAME_LAST[last] === 0) return at + 1;
  while (j > 0 && nameEnd - j < 40 && isNameChar(text.charCodeAt(j - 1))) j--;
  if (j === nameEnd || !ASSIGNED_NAME.test(text.slice(j, nameEnd))) return at + 1;
  let start = at + 1;
  while (start < text.length && start - at < 4 && isSpaceOrTab(text.charCodeAt(start))) start++;
  if (start < text.length && isQuote(text.charCodeAt(start))) start++;
  let end = start;
  while (end < text.length && end - start < 200 && !ENDS_VALUE.has(text.charCodeAt(end))) end++;
  while (end > start && NOT_LAST.has(text.charCodeAt(end - 1))) end--;
  if (end === start || PLACEHOLDER.test(text.slice(start, end))) return at + 1;
  out.push({ start, end, detector: secret });
  return end;
}
