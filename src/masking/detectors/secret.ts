import type { Detector, Match } from '../detector.js';

/**
 * Credentials: cloud access keys, GitHub and Slack tokens, JWTs, PEM private-key blocks, `sk-` style API keys and
 * `password=` / `secret:` assignments (only the assigned value is masked). Each kind is a table row with the literal
 * its values begin with, so text without any of them costs one regex scan for all kinds.
 */
interface SecretKind {
  /** Regex source of the literal every value of this kind begins with (after its look-behind). */
  readonly prefix: string;
  readonly pattern: RegExp;
  /** Extra check on the value; capture group 1 (with the `d` flag) narrows the match to the value. */
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

const KINDS: readonly SecretKind[] = [
  {
    prefix: 'A(?:KIA|SIA|BIA|CCA)',
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/g,
  },
  { prefix: 'gh[pousr]_', pattern: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])/g },
  { prefix: 'github_pat_', pattern: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,244}(?![A-Za-z0-9_])/g },
  { prefix: 'xox[abposre]-', pattern: /(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g },
  {
    prefix: 'eyJ',
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_.-])/g,
  },
  {
    prefix: '-----BEGIN ',
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{1,16384}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g,
  },
  {
    prefix: '[sr]k[-_]',
    pattern: /(?<![A-Za-z0-9_-])(?:sk|rk)[-_](?:live_|test_|proj-|ant-|or-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
    // API keys are random: digits and letters mixed, not a kebab-case name such as sk-build-cache-for-release.
    accept: (value) => /\d/.test(value) && /[A-Za-z]/.test(value) && (value.match(/[-_]/g)?.length ?? 0) <= 4,
  },
];

/**
 * One pass finds where any kind's literal prefix occurs; each kind's pattern then runs sticky at those places only.
 * The same matches as running every pattern over the whole text (a kind resumes after its own previous match, as
 * a global regex does), for one scan instead of one per kind.
 */
const PREFIXES = new RegExp(KINDS.map((kind) => kind.prefix).join('|'), 'g');
const STICKY = KINDS.map((kind) => new RegExp(kind.pattern.source, `${kind.pattern.flags.replace('g', '')}y`));

function findKinds(text: string, out: Match[]): void {
  PREFIXES.lastIndex = 0;
  let resume: number[] | undefined;
  for (let m = PREFIXES.exec(text); m !== null; m = PREFIXES.exec(text)) {
    const at = m.index;
    // Prefixes may overlap (`AKIAKIA...`): look again from the next character.
    PREFIXES.lastIndex = at + 1;
    resume ??= new Array<number>(KINDS.length).fill(0);
    for (let k = 0; k < KINDS.length; k++) {
      if ((resume[k] as number) > at) continue;
      const kind = KINDS[k] as SecretKind;
      const sticky = STICKY[k] as RegExp;
      sticky.lastIndex = at;
      const found = sticky.exec(text);
      if (found === null) continue;
      resume[k] = at + found[0].length;
      const span = found.indices?.[1];
      const value = span ? text.slice(span[0], span[1]) : found[0];
      if (kind.accept && !kind.accept(value)) continue;
      out.push(
        span
          ? { start: span[0], end: span[1], detector: secret }
          : { start: at, end: at + found[0].length, detector: secret },
      );
    }
  }
}

export const secret: Detector = {
  type: 'secret',
  label: '[SECRET]',
  defaultOn: true,
  priority: 100,
  maxLength: 17_000,
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
function findAssignments(text: string, out: Match[]): void {
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
