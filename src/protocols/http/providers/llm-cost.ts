/**
 * The worst-case price of an inference request, for `maxCostUsd`: the prompt's tokens counted with a real BPE
 * tokenizer (js-tiktoken, whose encodings ship in the package: nothing is downloaded at run time), plus the output
 * ceiling the request sets (`max_tokens` and its aliases) or, when it sets none, the model's maximum output, at the
 * model's prices. OpenAI models count exactly with their encoding (o200k_base, or cl100k_base for GPT-4 and 3.5);
 * other models' tokenizers are not public, so their prompts are counted with o200k_base plus a margin.
 *
 * Fail closed: a model without a price, or without an output ceiling from either the request or the table, costs
 * an unbounded amount (Infinity), which is over any limit: such a request needs review where a rule sets
 * `maxCostUsd`. Operators add the model to the resource's `modelPrices`.
 */
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import type { ModelPriceTable } from './model-prices.js';

/** Per message framing the chat formats add (role, separators), as OpenAI's cookbook counts it. */
const TOKENS_PER_STRING = 4;
/** Non-OpenAI tokenizers produce more tokens than o200k_base for the same text; the margin keeps the estimate high. */
const FOREIGN_TOKENIZER_MARGIN = 1.25;
/** Keys whose values are never prompt text. */
const SKIPPED_KEYS = new Set(['model', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'n', 'seed']);

/**
 * BPE merges are quadratic in the length of a piece the pre-tokenizer leaves whole (bench/results/llm-cost.md), so
 * no run of text or of blanks is encoded longer than RUN_CHARS, and text goes to the encoder in slices of about
 * SLICE_CHARS. A cut inside a token can only add a token, never hide one: the count stays an upper bound.
 */
const RUN_CHARS = 16;
const SLICE_CHARS = 512;
const PIECES = new RegExp(`\\s{0,${RUN_CHARS}}\\S{1,${RUN_CHARS}}|\\s{1,${RUN_CHARS}}`, 'g');
const SPACE = /\s/;
/**
 * Exact counting stops after this long on the event loop (long prompts, scripts with many bytes per character): the
 * rest counts as one token per UTF-8 byte, which no tokenizer exceeds. The figure then stays an upper bound.
 */
const EXACT_BUDGET_MS = 100;

/**
 * `text` in slices of about SLICE_CHARS, each ending at a piece boundary; a piece that continues the run the slice
 * ends with (a long word or a long blank cut in RUN_CHARS parts) starts a new slice, so no run grows past RUN_CHARS.
 */
function* slices(text: string): Generator<string> {
  let slice = '';
  for (const [piece] of text.matchAll(PIECES)) {
    const continuesRun = slice.length > 0 && SPACE.test(slice.charAt(slice.length - 1)) === SPACE.test(piece.charAt(0));
    if (slice.length > 0 && (continuesRun || slice.length + piece.length > SLICE_CHARS)) {
      yield slice;
      slice = '';
    }
    slice += piece;
  }
  if (slice.length > 0) yield slice;
}

let o200kEncoder: Tiktoken | undefined;
let cl100kEncoder: Tiktoken | undefined;

/** Built on first use (about half a second each): most resources never need them. `warmTokenizers` builds early. */
function encoderFor(model: string): { encoder: Tiktoken; margin: number } {
  if (/^(gpt-4(?!o|\.)|gpt-3\.5)/.test(model)) {
    cl100kEncoder ??= new Tiktoken(cl100k);
    return { encoder: cl100kEncoder, margin: 1 };
  }
  o200kEncoder ??= new Tiktoken(o200k);
  return { encoder: o200kEncoder, margin: /^(gpt-|o\d|chatgpt-)/.test(model) ? 1 : FOREIGN_TOKENIZER_MARGIN };
}

/** Builds the encoders at start-up, so the first priced request does not wait for them. */
export function warmTokenizers(): void {
  encoderFor('gpt-4o');
  encoderFor('gpt-4');
}

/**
 * Tokens of every string of the request body that may be prompt text (message contents, system, input...). After
 * `budgetMs` of exact counting the rest counts by bytes (tests pass their own budget: exactness must not depend on
 * how busy the machine is).
 */
export function countPromptTokens(model: string, body: unknown, budgetMs = EXACT_BUDGET_MS): number {
  const { encoder, margin } = encoderFor(model);
  let total = 0;
  const deadline = performance.now() + budgetMs;
  const count = (text: string): number => {
    let tokens = 0;
    let done = 0;
    for (const slice of slices(text)) {
      if (performance.now() > deadline) return tokens + Buffer.byteLength(text.slice(done), 'utf8');
      tokens += encoder.encode(slice, 'all').length;
      done += slice.length;
    }
    return tokens;
  };
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64) return;
    if (typeof node === 'string') total += count(node) + TOKENS_PER_STRING;
    else if (typeof node === 'number') total += 1;
    else if (Array.isArray(node)) for (const item of node) visit(item, depth + 1);
    else if (node !== null && typeof node === 'object')
      for (const [key, value] of Object.entries(node)) if (!SKIPPED_KEYS.has(key)) visit(value, depth + 1);
  };
  visit(body, 0);
  return Math.ceil(total * margin);
}

export interface CostEstimate {
  readonly usd: number;
  readonly promptTokens: number;
  /** The output ceiling used: the request's, or the model's maximum; undefined when neither is known. */
  readonly outputTokens?: number;
  /** Why the figure is unbounded, when it is. */
  readonly unbounded?: string;
}

export function worstCaseCost(
  prices: ModelPriceTable,
  model: string,
  body: unknown,
  maxOutputTokens: number | undefined,
): CostEstimate {
  const promptTokens = countPromptTokens(model, body);
  const price = prices.priceOf(model);
  if (price === undefined)
    return { usd: Number.POSITIVE_INFINITY, promptTokens, unbounded: `no price for model ${model}` };
  const outputTokens = maxOutputTokens ?? price.maxOutputTokens;
  if (outputTokens === undefined)
    return { usd: Number.POSITIVE_INFINITY, promptTokens, unbounded: `no output ceiling for model ${model}` };
  const usd = (promptTokens * price.input + outputTokens * price.output) / 1_000_000;
  return { usd, promptTokens, outputTokens };
}
