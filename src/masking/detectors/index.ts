import type { Detector } from '../detector.js';
import { DETECTOR_TYPES, type DetectorType } from '../names.js';
import { card } from './card.js';
import { email } from './email.js';
import { iban } from './iban.js';
import { ipv4, ipv6 } from './ip.js';
import { phoneDetector } from './phone.js';
import { secret } from './secret.js';
import { ssn } from './ssn.js';

export { DETECTOR_TYPES, type DetectorType };

export interface DetectorOptions {
  /** Regions whose national phone formats are recognised (international `+` numbers always are). */
  readonly phoneRegions?: readonly string[];
}

/**
 * The detector table: one entry per type. Person names are not detected: no offline library does it well enough.
 * Phone takes options; the others are fixed.
 */
export function detectorTable(options: DetectorOptions = {}): Readonly<Record<DetectorType, Detector>> {
  return Object.assign(Object.create(null), {
    email,
    phone: phoneDetector(options.phoneRegions),
    card,
    ssn,
    iban,
    ipv4,
    ipv6,
    secret,
  } satisfies Record<DetectorType, Detector>);
}
