/**
 * Built-in model prices for `maxCostUsd`: US dollars per million tokens, list prices at the time of writing. They
 * MAY BE OUT OF DATE: a resource's `modelPrices` adds to and overrides them. Patterns use `*`; the longest matching
 * pattern wins (an exact name first), so `gpt-4o-mini*` beats `gpt-4o*` for
 * `gpt-4o-mini-2024-07-18`.
 */
import { wildcardMatcher } from '../../../core/wildcard.js';

export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  /** The most output tokens the model can produce: the worst case when a request sets no max_tokens. */
  readonly maxOutputTokens?: number;
}

const DEFAULT_MODEL_PRICES: Readonly<Record<string, ModelPrice>> = Object.assign(Object.create(null), {
  'gpt-4o*': { input: 2.5, output: 10, maxOutputTokens: 16_384 },
  'gpt-4o-mini*': { input: 0.15, output: 0.6, maxOutputTokens: 16_384 },
  'gpt-4.1*': { input: 2, output: 8, maxOutputTokens: 32_768 },
  'gpt-4.1-mini*': { input: 0.4, output: 1.6, maxOutputTokens: 32_768 },
  'gpt-4.1-nano*': { input: 0.1, output: 0.4, maxOutputTokens: 32_768 },
  'gpt-4-turbo*': { input: 10, output: 30, maxOutputTokens: 4_096 },
  'gpt-3.5-turbo*': { input: 0.5, output: 1.5, maxOutputTokens: 4_096 },
  'o1*': { input: 15, output: 60, maxOutputTokens: 100_000 },
  'o1-mini*': { input: 1.1, output: 4.4, maxOutputTokens: 65_536 },
  'o3*': { input: 2, output: 8, maxOutputTokens: 100_000 },
  'o3-mini*': { input: 1.1, output: 4.4, maxOutputTokens: 100_000 },
  'o4-mini*': { input: 1.1, output: 4.4, maxOutputTokens: 100_000 },
  'claude-3-5-haiku*': { input: 0.8, output: 4, maxOutputTokens: 8_192 },
  'claude-3-5-sonnet*': { input: 3, output: 15, maxOutputTokens: 8_192 },
  'claude-3-7-sonnet*': { input: 3, output: 15, maxOutputTokens: 64_000 },
  'claude-sonnet-4*': { input: 3, output: 15, maxOutputTokens: 64_000 },
  'claude-3-opus*': { input: 15, output: 75, maxOutputTokens: 4_096 },
  'claude-opus-4*': { input: 15, output: 75, maxOutputTokens: 32_000 },
});

/** Looks models up in the defaults merged with a resource's own prices (which win on the same pattern). */
export class ModelPriceTable {
  private readonly entries: readonly { matches: (model: string) => boolean; price: ModelPrice }[];

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}) {
    const merged: Record<string, ModelPrice> = Object.assign(Object.create(null), DEFAULT_MODEL_PRICES, overrides);
    this.entries = Object.entries(merged)
      .map(([pattern, price]) => ({
        matches: wildcardMatcher(pattern),
        price,
        // Most specific first: an exact name, then the most literal characters, then the resource's own prices.
        exact: pattern.includes('*') ? 0 : 1,
        literal: pattern.replaceAll('*', '').length,
        own: Object.hasOwn(overrides, pattern) ? 1 : 0,
      }))
      .sort((a, b) => b.exact - a.exact || b.literal - a.literal || b.own - a.own);
  }

  priceOf(model: string): ModelPrice | undefined {
    return this.entries.find((entry) => entry.matches(model))?.price;
  }
}
