import type { Detector, Match } from '../detector.js';

/**
 * Email addresses. Hand-written rather than one regex: a pattern starting with the local part is tried at every
 * letter of the text and backtracks over long words, while anchoring on `@` (found with indexOf) keeps the scan
 * linear and fast. The address is then checked: dot rules in the local part, labels and an alphabetic TLD.
 */
const LOCAL = new Uint8Array(128);
const DOMAIN = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') {
  LOCAL[c.charCodeAt(0)] = 1;
  DOMAIN[c.charCodeAt(0)] = 1;
}
for (const c of "._%+-'") LOCAL[c.charCodeAt(0)] = 1;
for (const c of '.-') DOMAIN[c.charCodeAt(0)] = 1;

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const TLD = /^[A-Za-z]{2,24}$/;

export const email: Detector = {
  type: 'email',
  label: '[EMAIL]',
  defaultOn: true,
  priority: 80,
  maxLength: MAX_LOCAL + 1 + MAX_DOMAIN,
  // `find` looks only around each `@`.
  triggers: '@',
  find(text: string, out: Match[]): void {
    let from = 0;
    for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', from)) {
      from = at + 1;
      let start = at;
      while (start > 0 && at - start < MAX_LOCAL && isIn(LOCAL, text.charCodeAt(start - 1))) start--;
      let end = at + 1;
      while (end < text.length && end - at <= MAX_DOMAIN && isIn(DOMAIN, text.charCodeAt(end))) end++;
      // Trailing punctuation ends a sentence, not the address.
      while (end > at + 1 && (text[end - 1] === '.' || text[end - 1] === '-')) end--;
      while (start < at && (text[start] === '.' || text[start] === "'")) start++;
      if (start === at || end === at + 1) continue;
      const local = text.slice(start, at);
      if (local.endsWith('.') || local.includes('..')) continue;
      const labels = text.slice(at + 1, end).split('.');
      if (labels.length < 2 || !TLD.test(labels[labels.length - 1] as string)) continue;
      if (!labels.every((label) => LABEL.test(label))) continue;
      out.push({ start, end, detector: email });
      from = end;
    }
  },
  partial(value: string): string {
    const at = value.lastIndexOf('@');
    return `${value.slice(0, 1)}***${value.slice(at)}`;
  },
  normalize: (value) => value.toLowerCase(),
};

function isIn(table: Uint8Array, code: number): boolean {
  return code < 128 && table[code] === 1;
}
