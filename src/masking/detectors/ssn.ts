import { clusterDetector, type Detector, digitsOf } from '../detector.js';
import { charTable } from '../digit-clusters.js';

/**
 * US social security numbers written with separators (`123-45-6789`, `123 45 6789`). Bare nine-digit runs are not
 * scanned for (they are indistinguishable from ids); name the column in a column rule instead. Numbers the SSA
 * never issues are rejected: area 000, 666 and 900-999, group 00, serial 0000, and the well-known advertising
 * numbers.
 */
const CANDIDATE = /(?<![\w\-.])(\d{3})([ -])(\d{2})\2(\d{4})(?![\w-]|\.\d)/g;
const NEVER_ISSUED = new Set(['078051120', '219099999', '123456789']);

function validSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  if (a === 0 || a === 666 || a >= 900) return false;
  if (group === '00' || serial === '0000') return false;
  return !NEVER_ISSUED.has(area + group + serial);
}

export const ssn: Detector = clusterDetector(
  {
    type: 'ssn',
    label: '[SSN]',
    defaultOn: true,
    priority: 50,
    maxLength: 11,
    minRun: 11,
    partial: (value) => `***-**-${digitsOf(value).slice(-4)}`,
    normalize: digitsOf,
  },
  (cluster) => cluster.digits >= 9,
  charTable('-.'),
  CANDIDATE,
  (m) => validSsn(m[1] as string, m[3] as string, m[4] as string),
);
