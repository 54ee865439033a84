import { MaskCounts } from '../../masking/counts.js';
import type { Redactor } from '../../masking/redactor.js';

/**
 * Keys whose string values are MCP vocabulary or identifiers the client acts on, never content: left alone so the
 * client keeps working. `data` and `blob` are base64 (images, binary resources): masking text inside them would
 * only corrupt them, so they pass as they are (a binary result is not scanned).
 */
const LEFT_ALONE: ReadonlySet<string> = new Set([
  'type',
  'mimeType',
  'uri',
  'uriTemplate',
  'role',
  'data',
  'blob',
  'nextCursor',
  'progressToken',
]);

/**
 * Masks every content string of an MCP result in place (tool results' text, structured content and embedded
 * resources; resource contents; prompt messages), counting what was masked per type.
 */
export function maskResult(result: unknown, redactor: Redactor): { value: unknown; counts: MaskCounts } {
  const counts = new MaskCounts();
  return { value: walk(result, redactor, counts, undefined), counts };
}

/** Masks the string values of call arguments (a copy), for resources with `maskArguments`. */
export function maskArguments(
  args: Readonly<Record<string, unknown>>,
  redactor: Redactor,
): { value: Record<string, unknown>; counts: MaskCounts } {
  const counts = new MaskCounts();
  const copy = structuredClone(args) as Record<string, unknown>;
  return { value: walk(copy, redactor, counts, undefined) as Record<string, unknown>, counts };
}

function walk(value: unknown, redactor: Redactor, counts: MaskCounts, key: string | undefined): unknown {
  if (typeof value === 'string') return key !== undefined && LEFT_ALONE.has(key) ? value : redactor.mask(value, counts);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = walk(value[i], redactor, counts, key);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of Object.keys(record)) record[name] = walk(record[name], redactor, counts, name);
  }
  return value;
}
