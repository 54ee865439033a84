import { isIPv6 } from 'node:net';
import type { Detector, Match } from '../detector.js';

/**
 * IPv4 addresses (dotted quads with each octet 0-255, not part of a longer dotted run such as `1.2.3.4.5` or a
 * `v1.2.3.4` version) and IPv6 addresses (full or compressed, validated by node:net).
 */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.\\-])${OCTET}(?:\\.${OCTET}){3}(?![\\w\\-]|\\.\\d)`, 'g');
/** Characters an IPv6 address (with an embedded IPv4 tail) is made of. */
const IPV6_CHARS = new Uint8Array(128);
for (const c of '0123456789abcdefABCDEF:.') IPV6_CHARS[c.charCodeAt(0)] = 1;
const inIpv6 = (code: number) => code < 128 && IPV6_CHARS[code] === 1;
const isDigit = (code: number) => code >= 48 && code <= 57;
const isWord = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;

/** Sticky: tried only where the digits before a `.` begin (see `ipv4.find`). */
const IPV4_AT = new RegExp(IPV4.source, 'y');

export const ipv4: Detector = {
  type: 'ipv4',
  label: '[IPV4]',
  defaultOn: true,
  priority: 30,
  maxLength: 15,
  regex: { pattern: IPV4, accept: () => true },
  // `find` tries a start before each `.` only.
  triggers: '.',
  /**
   * Hand-written: anchored on `.` (found with indexOf), where the one to three digits before it begin is the only
   * place an address holding that dot as its first can begin, so IPV4 runs sticky there only. Not a numeric
   * (digit cluster) detector: its shortest values (`1.2.3.4`, 7 characters) would make the shared scan for numbers
   * stop at every date, and dots are rare. The same matches as IPV4 run globally: a start is tried at every dot,
   * and after a match the search goes on from its end.
   */
  find(text: string, out: Match[]): void {
    for (let dot = text.indexOf('.', 1); dot !== -1; ) {
      let start = dot;
      while (start > 0 && dot - start < 4 && isDigit(text.charCodeAt(start - 1))) start--;
      // IPV4's look-behind, checked first: most dots end a sentence or sit in a version (`v1.2.3`).
      const before = start === 0 ? 32 : text.charCodeAt(start - 1);
      if (start < dot && dot - start <= 3 && !isWord(before) && before !== 46 && before !== 45) {
        IPV4_AT.lastIndex = start;
        const found = IPV4_AT.exec(text);
        if (found !== null) {
          const end = start + found[0].length;
          out.push({ start, end, detector: ipv4 });
          dot = text.indexOf('.', end);
          continue;
        }
      }
      dot = text.indexOf('.', dot + 1);
    }
  },
  partial: (value) => `${value.slice(0, value.indexOf('.'))}.*.*.*`,
  normalize: (value) => value,
};

export const ipv6: Detector = {
  type: 'ipv6',
  label: '[IPV6]',
  defaultOn: true,
  priority: 40,
  maxLength: 45,
  // `find` looks only around each `:`.
  triggers: ':',
  // Hand-written: anchored on `:` (found with indexOf), the run of address characters around it is the candidate.
  // A regex for compressed forms has optional parts up front and is tried at every position, four times slower.
  find(text: string, out: Match[]): void {
    let from = 0;
    for (let colon = text.indexOf(':'); colon !== -1; colon = text.indexOf(':', from)) {
      let start = colon;
      while (start > 0 && colon - start < 45 && inIpv6(text.charCodeAt(start - 1))) start--;
      let end = colon + 1;
      while (end < text.length && end - start < 46 && inIpv6(text.charCodeAt(end))) end++;
      from = end;
      while (end > colon && text.charCodeAt(end - 1) === 46) end--;
      if (start > 0 && (isWord(text.charCodeAt(start - 1)) || text.charCodeAt(start - 1) === 46)) continue;
      if (end < text.length && isWord(text.charCodeAt(end))) continue;
      const value = text.slice(start, end);
      if (value.indexOf(':', value.indexOf(':') + 1) === -1) continue;
      // Clock times fail isIPv6. A compressed form needs a digit: `abc::def` is more likely code than an address.
      if (!isIPv6(value)) continue;
      if (value.split(':').length === 8 || (value.includes('::') && /\d/.test(value)))
        out.push({ start, end, detector: ipv6 });
    }
  },
  partial: (value) => `${value.slice(0, value.indexOf(':'))}:****`,
  normalize: (value) => value.toLowerCase(),
};
