/** Names shared by the config schema and the masking engine (no dependencies, so config loading stays light). */
export const DETECTOR_TYPES = ['email', 'phone', 'card', 'ssn', 'iban', 'ipv4', 'ipv6', 'secret'] as const;
export type DetectorType = (typeof DETECTOR_TYPES)[number];

export const MASK_STYLES = ['redact', 'partial', 'tokenize'] as const;
export type MaskStyle = (typeof MASK_STYLES)[number];
