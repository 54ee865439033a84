import { MaskCounts } from './counts.js';
import { maskJsonValue } from './json-value.js';
import type { Redactor } from './redactor.js';

/** Fields of inference request bodies that carry the prompt (OpenAI chat/completions/responses, Anthropic, embeddings). */
const PROMPT_FIELDS = ['messages', 'prompt', 'input', 'instructions', 'system', 'contents'] as const;

/**
 * Masks the prompt of an inference request before it reaches the model: every string inside the message contents,
 * prompt, input and instructions (nested content parts included; `role`, `type`, ids left alone). The model name
 * and parameters stay as they were. A body that is not a JSON object is masked as text. Returns the new body, or
 * the original bytes when nothing was found.
 */
export function maskInferenceRequest(body: Buffer, redactor: Redactor, counts: MaskCounts): Buffer {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const masked = redactor.mask(text, counts);
    return masked === text ? body : Buffer.from(masked, 'utf8');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const masked = redactor.mask(text, counts);
    return masked === text ? body : Buffer.from(masked, 'utf8');
  }
  const record = parsed as Record<string, unknown>;
  const found = new MaskCounts();
  for (const field of PROMPT_FIELDS) {
    if (field in record) record[field] = maskJsonValue(record[field], redactor, found);
  }
  if (found.empty) return body;
  counts.merge(found);
  return Buffer.from(JSON.stringify(record), 'utf8');
}
