import { GatehouseError } from '../../../core/errors.js';
import type { JsonObject } from './profile.js';

export type { JsonObject } from './profile.js';

/**
 * Parses a buffered request body for a profile. Duplicate keys: `JSON.parse` keeps the last one, as serde_json's
 * `Value`, Python's json and Go's encoding/json do, but some upstream structs reject duplicates instead. Rather than
 * guess, the gateway forwards `serializeBody(parsed)` for every body it inspected: the upstream then parses exactly
 * the document policy judged, with no duplicate left to disagree about.
 */
export function parseJsonBody(body: Buffer): { body?: JsonObject; unclassifiable?: string } {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { unclassifiable: 'the request body is not valid JSON' };
  }
  if (!isObject(parsed)) return { unclassifiable: 'the request body is not a JSON object' };
  return { body: parsed };
}

/** The bytes to forward for an inspected body (see `parseJsonBody`). Refuses a rewrite that outgrew the limit. */
export function serializeBody(body: JsonObject, limit: number): Buffer {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  if (bytes.length > limit) throw new GatehouseError('request.too_large');
  return bytes;
}

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A non-negative integer field, or undefined when absent; NaN marks a present but unusable value. */
export function intField(body: JsonObject | undefined, key: string): number | undefined {
  const value = body?.[key];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : Number.NaN;
}
