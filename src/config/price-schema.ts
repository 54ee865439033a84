// Model prices for LLM cost thresholds (`maxCostUsd`): US dollars per million tokens, per model name pattern.
import { z } from 'zod';

const modelPriceSchema = z.strictObject({
  input: z.number().min(0).describe('US dollars per million prompt (input) tokens.'),
  output: z.number().min(0).describe('US dollars per million completion (output) tokens.'),
  maxOutputTokens: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('The most output tokens the model can produce: the worst case when a request sets no max_tokens.'),
});

export const modelPricesSchema = z
  .record(z.string().min(1), modelPriceSchema)
  .describe(
    'Prices per model name pattern (`*` wildcard; an exact name, else the most specific matching pattern, wins), added to and overriding the built-in defaults. The defaults are list prices at the time of writing and may be out of date: set the ones you pay.',
  );
