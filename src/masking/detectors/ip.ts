import { isIPv6 } from 'node:net';
import { clusterDetector, type Detector, type Match } from '../detector.js';
import { charTable } from '../digit-clusters.js';

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
const isWord = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;

export const ipv4: Detector = clusterDetector(
  {
    type: 'ipv4',
    label: '[IPV4]',
    defaultOn: true,
    priority: 30,
    maxLength: 15,
    minRun: 7,
    partial: (value) => `${value.slice(0, value.indexOf('.'))}.*.*.*`,
    normalize: (value) => value,
  },
  (cluster) => cluster.dots >= 3,
  charTable('.-'),
  IPV4,
  () => true,
);

export const ipv6: Detector = {
  type: 'ipv6',
  label: '[IPV6]',
  defaultOn: true,
  priority: 40,
  maxLength: 45,
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
