import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import type { Detector, Match } from '../detector.js';

/**
 * IBANs, compact or in groups of four (`GB82 WEST 1234 5698 7654 32`): ibantools checks the country's length and
 * BBAN format and the mod-97 check digits.
 */
/**
 * Sticky: tried only where two capitals, not after a letter or digit, are followed by two digits. Exported for test
 * `fast paths`, which tries it at every position of a text.
 */
export const CANDIDATE = /[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])/y;
/**
 * Where an IBAN can begin: the country code and check digits. One regex pass; letters are not numbers' business.
 * The check digits in a look-ahead: the engine's skip search then looks for the two capitals only, several times
 * faster over text dense in digits (hex ids) than with the digits in the match, for the very same starts.
 */
const START = /(?<![A-Za-z0-9])[A-Z]{2}(?=\d\d)/g;

export const iban: Detector = {
  type: 'iban',
  label: '[IBAN]',
  defaultOn: true,
  priority: 70,
  maxLength: 42,
  // Every candidate begins where START matches: two capitals.
  triggers: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  find(text: string, out: Match[]): void {
    START.lastIndex = 0;
    for (let m = START.exec(text); m !== null; m = START.exec(text)) {
      const at = m.index;
      CANDIDATE.lastIndex = at;
      const found = CANDIDATE.exec(text);
      if (found !== null && isValidIBAN(found[0].replace(/ /g, '')))
        out.push({ start: at, end: at + found[0].length, detector: iban });
      // Every start is tried, as before: an invalid candidate does not hide one that begins inside it.
      START.lastIndex = at + 1;
    }
  },
  partial: (value) => {
    const compact = electronicFormatIBAN(value) ?? value;
    return `${compact.slice(0, 4)}****${compact.slice(-4)}`;
  },
  normalize: (value) => value.replace(/ /g, '').toUpperCase(),
};
