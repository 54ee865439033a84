/**
 * A deliberately generous prompt-token estimate for reservations: no tokenizer ships with the project (and each model
 * family has its own), so text counts as one token per 3 UTF-8 bytes (real BPE tokenizers average about 4 for English),
 * plus a few tokens per message. The reservation is settled to the upstream's reported usage afterwards, so a high
 * estimate only holds budget for the length of one call.
 */
const BYTES_PER_TOKEN = 3;
const PER_STRING_OVERHEAD = 2;
/** Inline images and files (`data:` URLs, base64 sources) count as a flat amount instead of their encoded size. */
const INLINE_MEDIA_TOKENS = 1_600;
/** Keys whose values are never prompt text. */
const SKIPPED_KEYS = new Set(['model', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'n', 'seed']);

export function estimateTokens(value: unknown): number {
  let total = 0;
  const visit = (node: unknown, key: string | undefined, depth: number): void => {
    if (depth > 64) return;
    if (typeof node === 'string') {
      if (key === 'data' || key === 'url' ? node.startsWith('data:') || node.length > 10_000 : false) {
        total += INLINE_MEDIA_TOKENS;
        return;
      }
      total += Math.ceil(Buffer.byteLength(node, 'utf8') / BYTES_PER_TOKEN) + PER_STRING_OVERHEAD;
    } else if (typeof node === 'number') {
      // Pre-tokenised prompts (`prompt: [1, 2, 3]`, embeddings `input` as token ids) count one each.
      total += 1;
    } else if (Array.isArray(node)) {
      for (const item of node) visit(item, key, depth + 1);
    } else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) if (!SKIPPED_KEYS.has(k)) visit(v, k, depth + 1);
    }
  };
  visit(value, undefined, 0);
  return total;
}
