import type { MaskCounts } from './counts.js';
import type { Redactor } from './redactor.js';

/** Keys whose string values are protocol vocabulary, never content: left alone so clients keep working. */
const STRUCTURAL_KEYS = new Set([
  'id',
  'object',
  'model',
  'role',
  'type',
  'finish_reason',
  'system_fingerprint',
  'service_tier',
  'tool_call_id',
  'event',
  'stop_reason',
]);

/**
 * Masks every string value of a parsed JSON value in place (keys excepted, and the protocol fields above). Returns
 * the value for convenience. Used for single SSE events and request bodies, which are already whole.
 */
export function maskJsonValue(value: unknown, redactor: Redactor, counts: MaskCounts, key?: string): unknown {
  if (typeof value === 'string') {
    return key !== undefined && STRUCTURAL_KEYS.has(key) ? value : redactor.mask(value, counts);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = maskJsonValue(value[i], redactor, counts, key);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of Object.keys(record)) record[name] = maskJsonValue(record[name], redactor, counts, name);
  }
  return value;
}
