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

let encoders: { o200k: Tiktoken; cl100k: Tiktoken } | undefined;

/** Built on first use: building the BPE ranks takes a moment and most resources never need them. */
function encoderFor(model: string): { encoder: Tiktoken; margin: number } {
  encoders ??= { o200k: new Tiktoken(o200k), cl100k: new Tiktoken(cl100k) };
  if (/^(gpt-4(?!o|\.)|gpt-3\.5)/.test(model)) return { encoder: encoders.cl100k, margin: 1 };
  if (/^(gpt-|o\d|chatgpt-)/.test(model)) return { encoder: encoders.o200k, margin: 1 };
  return { encoder: encoders.o200k, margin: FOREIGN_TOKENIZER_MARGIN };
}

/** Tokens of every string of the request body that may be prompt text (message contents, system, input...). */
export function countPromptTokens(model: string, body: unknown): number {
  const { encoder, margin } = encoderFor(model);
  let total = 0;
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64) return;
    if (typeof node === 'string') total += encoder.encode(node, 'all').length + TOKENS_PER_STRING;
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
