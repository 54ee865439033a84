/**
 * Budgets in money (`usd:`): their buckets count micro-dollars where token budgets count tokens, in the same store
 * columns. A call is charged at its model's prices (US dollars per million tokens, which the protocol supplies from
 * its price table): reserved at the worst case (prompt estimate + output ceiling), settled to the reported usage.
 * A call under a money budget whose model has no price cannot be charged, so it is refused (fail closed).
 */
import type { BucketKey } from './buckets.js';

/** US dollars per million tokens. */
export interface TokenPrice {
  readonly input: number;
  readonly output: number;
}

export const MICRO_USD_PER_USD = 1_000_000;

/** Token buckets and money buckets of one call. */
export function splitByUnit(keys: readonly BucketKey[]): { tokens: BucketKey[]; usd: BucketKey[] } {
  return { tokens: keys.filter((k) => k.unit !== 'usd'), usd: keys.filter((k) => k.unit === 'usd') };
}

/** Micro-dollars of `input` prompt and `output` completion tokens: tokens x dollars per million = micro-dollars. */
export function microUsd(price: TokenPrice, input: number, output: number): number {
  return Math.ceil(input * price.input + output * price.output);
}

/** What a settled call costs when the upstream reported only a total: every token at the higher of the two prices. */
export function microUsdOfTotal(price: TokenPrice, total: number): number {
  return Math.ceil(total * Math.max(price.input, price.output));
}
