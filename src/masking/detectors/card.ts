import { clusterDetector, type Detector, digitsOf, keepLast } from '../detector.js';
import { charTable } from '../digit-clusters.js';

/**
 * Payment card numbers, 12-19 digits with or without separators (`4242 4242 4242 4242`, `4242-4242-...`,
 * `378282246310005`): the Luhn checksum and the issuer's number ranges and lengths must both hold.
 */
const CANDIDATE = /(?<![\w\-.])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5}|\d{12,19})(?![\w-]|\.\d)/g;

/** Issuer ranges (IIN prefixes) with the lengths each issues. Table, not switch: one row per scheme. */
const ISSUERS: readonly {
  readonly prefixes: readonly [number, number, number][];
  readonly lengths: readonly number[];
}[] = [
  { prefixes: [[4, 4, 1]], lengths: [13, 16, 19] }, // Visa
  {
    prefixes: [
      [51, 55, 2],
      [2221, 2720, 4],
    ],
    lengths: [16],
  }, // Mastercard
  {
    prefixes: [
      [34, 34, 2],
      [37, 37, 2],
    ],
    lengths: [15],
  }, // American Express
  {
    prefixes: [
      [6011, 6011, 4],
      [644, 649, 3],
      [65, 65, 2],
    ],
    lengths: [16, 17, 18, 19],
  }, // Discover
  { prefixes: [[3528, 3589, 4]], lengths: [16, 17, 18, 19] }, // JCB
  {
    prefixes: [
      [300, 305, 3],
      [36, 36, 2],
      [38, 39, 2],
    ],
    lengths: [14, 15, 16, 17, 18, 19],
  }, // Diners Club
  { prefixes: [[62, 62, 2]], lengths: [16, 17, 18, 19] }, // UnionPay
  {
    prefixes: [
      [50, 50, 2],
      [56, 58, 2],
      [67, 69, 2],
    ],
    lengths: [12, 13, 14, 15, 16, 17, 18, 19],
  }, // Maestro
];

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function knownIssuer(digits: string): boolean {
  return ISSUERS.some(
    (issuer) =>
      issuer.lengths.includes(digits.length) &&
      issuer.prefixes.some(([low, high, size]) => {
        const prefix = Number(digits.slice(0, size));
        return prefix >= low && prefix <= high;
      }),
  );
}

export const card: Detector = clusterDetector(
  {
    type: 'card',
    label: '[CARD]',
    defaultOn: true,
    priority: 60,
    maxLength: 23,
    minRun: 12,
    partial: (value) => keepLast(value, 4),
    normalize: digitsOf,
  },
  (cluster) => cluster.digits >= 12,
  charTable('-.'),
  CANDIDATE,
  (m) => {
    const digits = digitsOf(m[0]);
    return digits.length >= 12 && digits.length <= 19 && knownIssuer(digits) && luhn(digits);
  },
);
