import { type CountryCode, getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { LRUCache } from 'lru-cache';
import { detachedCopy } from '../detached-copy.js';
import { clusterDetector, type Detector, digitsOf, keepLast } from '../detector.js';
import { charTable } from '../digit-clusters.js';

/**
 * Phone numbers: international (`+44 20 7946 0958`, `+14155552671`) and national formats with separators
 * (`(415) 555-2671`, `415.555.2671`). Scanning whole texts with libphonenumber is slow, so a bounded regex finds
 * candidates and libphonenumber's full metadata (`/max`) validates each one. National numbers are read in the
 * configured regions only: many countries' plans accept almost any 8-10 digits (`2024-01-15` is a valid German
 * number), so the default is the US plan and other regions are opt-in.
 */
const CANDIDATE = new RegExp(
  [
    String.raw`(?<![\w+\-./])`,
    '(?:',
    // International: +CC then groups, or +CC and the digits in one run.
    String.raw`\+\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,5}){1,6}`,
    '|',
    // National with an area code in parentheses, or three-plus separated groups.
    String.raw`\(\d{2,5}\)[ .\-]?\d{2,5}(?:[ .\-]\d{2,5}){0,2}`,
    '|',
    String.raw`\d{2,5}(?:[ .\-]\d{2,8}){1,4}`,
    ')',
    String.raw`(?![\w\-]|[.:/]\d)`,
  ].join(''),
  'g',
);

/** `+CC` then at least two more groups, each set off by a space, dot or dash (or a parenthesised area code). */
const INTERNATIONAL_GROUPED = /^\+\d{1,3}(?:[ .-]\(\d{1,4}\))?(?:[ .-]\d{1,5}){2,6}$/;
/** `(AAA) EEE-NNNN` and its dotted variant: a parenthesised area code, then a group, then a dash- or dot-joined one. */
const PARENTHESISED = /^\(\d{2,5}\) ?\d{2,5}[.-]\d{2,5}$/;

/** Validation results kept per candidate: libphonenumber costs tens of microseconds a call, logs repeat numbers. */
const CACHE_SIZE = 16_384;
/**
 * Whether libphonenumber could accept the digits of a candidate at all (false: certainly not a phone number): the
 * North American plan (+1, and national numbers of its regions) has ten digits after any trunk `1`s, that is
 * `^1*(?:[02-9]\d{9}|3\d{6})$` over the digits. A necessary condition libphonenumber then confirms; checked first
 * because resolving which of the plan's 25 countries a number belongs to is the library's slowest path. The library
 * also takes the US's seven-digit `310-XXXX` numbers and some exchanges beginning with 0, so this checks lengths
 * only; test `phone pre-check` holds it against the library. Reads the digits of `candidate` in place (other
 * characters are skipped), by hand: it runs on every candidate, and a string of its digits would be made only to be
 * thrown away.
 */
export function plausiblePhone(candidate: string, international: boolean, nanpRegions: boolean): boolean {
  let digits = 0;
  let first = -1;
  let leadingOnes = 0;
  /** The first digit after the leading `1`s (NANP's `[02-9]` or the `3` of `3\d{6}`). */
  let afterOnes = -1;
  for (let i = 0; i < candidate.length; i++) {
    const c = candidate.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    if (first === -1) first = c;
    if (afterOnes === -1) {
      if (c === 49) leadingOnes++;
      else afterOnes = c;
    }
    digits++;
  }
  const rest = digits - leadingOnes;
  // `1*` takes every leading 1: giving one back would leave a 1 where neither alternative may begin.
  const nanp = rest === 10 || (rest === 7 && afterOnes === 51);
  if (international) return first !== 49 || nanp;
  return !nanpRegions || nanp;
}

export function phoneDetector(regions: readonly string[] = ['US']): Detector {
  const countries = regions as readonly CountryCode[];
  const nanpRegions = countries.every((country) => getCountryCallingCode(country) === '1');
  const cache = new LRUCache<string, boolean>({ max: CACHE_SIZE });
  const validate = (candidate: string): boolean => {
    // The cheap checks first, all on the candidate in place; each is a condition the verdict needs, so their order
    // does not change it.
    const digits = countDigits(candidate);
    if (digits < 8 || digits > 15) return false;
    const international = candidate.charCodeAt(0) === 43;
    if (!international) {
      if (digits < 10) return false;
      // A national number needs visible grouping, as people write phone numbers (bare digit runs are ids).
      if (!/[ .\-()]/.test(candidate)) return false;
    }
    if (!plausiblePhone(candidate, international, nanpRegions)) return false;
    if (!international && !consistentSeparators(candidate)) return false;
    // A hit keeps the key the entry was stored with (a Map's delete and set would store this candidate instead).
    let valid = cache.get(candidate);
    if (valid !== undefined) return valid;
    // Written the way only phone numbers are written (`+1 555 010 1234`, `(555) 010-1234`): a number of a possible
    // length is masked even when its area code or exchange is not in the plan's metadata (unassigned, new, or
    // fictional): the formatting says phone. Bare runs and looser groupings keep strict validation.
    const phoneLike = international ? INTERNATIONAL_GROUPED.test(candidate) : PARENTHESISED.test(candidate);
    const accepted = (parsed: ReturnType<typeof parsePhoneNumberFromString>) =>
      parsed !== undefined && (parsed.isValid() || (phoneLike && parsed.isPossible()));
    valid = international
      ? accepted(parsePhoneNumberFromString(candidate))
      : countries.some((country) => {
          const parsed = parsePhoneNumberFromString(candidate, country);
          // Grouped as the region writes its numbers: `942.67.21.241` is not a US number however valid its digits.
          return accepted(parsed) && sameGroups(candidate, (parsed as NonNullable<typeof parsed>).formatNational());
        });
    // The candidate is a slice of the text being masked: kept as it is, it would keep that whole text alive.
    cache.set(detachedCopy(candidate), valid);
    return valid;
  };
  return clusterDetector(
    {
      type: 'phone',
      label: '[PHONE]',
      defaultOn: true,
      priority: 20,
      maxLength: 32,
      // National: ten digits and a separator; international: `+` and eight digits.
      minRun: 11,
      minPlusRun: 9,
      partial: (value) => keepLast(value, 4),
      normalize: (value) => (value.startsWith('+') ? '+' : '') + digitsOf(value),
    },
    (cluster, text) => cluster.digits >= 10 || (cluster.digits >= 8 && text.charCodeAt(cluster.start) === 43),
    charTable('+-./'),
    CANDIDATE,
    (m) => validate(m[0]),
  );
}

function countDigits(text: string): number {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  return digits;
}

/** `415-555.2671` mixes separators: people do not write phone numbers that way, generated ids sometimes do. */
function consistentSeparators(candidate: string): boolean {
  const separators = new Set(candidate.replace(/^\(\d+\)/, '').match(/[.-]/g) ?? []);
  return separators.size <= 1;
}

/** Digit groups of a candidate against the library's national format (`(415) 555-2671` -> 3,3,4). */
function sameGroups(candidate: string, formatted: string): boolean {
  const groups = (text: string) =>
    text
      .match(/\d+/g)
      ?.map((g) => g.length)
      .join(',') ?? '';
  const written = groups(candidate);
  const expected = groups(formatted);
  // Writers may drop the trunk prefix's own group or run it into the next one: compare the digits' tail grouping.
  return written === expected || expected.endsWith(`,${written}`) || written.endsWith(`,${expected}`);
}
