import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

const window = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms < 1_000) {
      ctx.addIssue({ code: 'custom', message: 'expected a window such as 1m, 1h or 1d (at least 1s)' });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ format: 'duration' });

/**
 * One budget. Exactly one of `per: subject` (a bucket per token subject), `group` (one bucket shared by the group's
 * members) or `claim` (a bucket per value of that claim, e.g. `repository`). Windows are fixed and aligned to the
 * epoch (a `1h` window resets on the hour, UTC), not sliding.
 */
const budget = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
      .describe('Budget name (lower-case letters, digits, - or _).'),
    per: z.literal('subject').optional().describe('`subject`: one bucket per token subject.'),
    group: z.string().min(1).optional().describe('One bucket shared by the members of this group.'),
    /** Dotted path into the token's claims; a caller without a string or number value there is refused. */
    claim: z
      .string()
      .min(1)
      .optional()
      .describe("Dotted path into the token's claims; a caller without a string or number value there is refused."),
    /** Only these resources count against the budget; absent means every resource with a profile. */
    resources: z
      .array(z.string().min(1))
      .optional()
      .describe('Only these resources count against the budget; absent means every resource with a profile.'),
    window: window.describe('Fixed window length, aligned to the epoch (`1h` resets on the hour, UTC).'),
    /** Prompt plus completion tokens per window. */
    tokens: z.number().int().positive().optional().describe('Prompt plus completion tokens per window.'),
    usd: z
      .number()
      .positive()
      .optional()
      .describe(
        "US dollars per window, charged at the model's prices (the resource's `modelPrices` and the built-in defaults); not combined with `tokens` in one budget.",
      ),
    /** Calls per window. */
    requests: z.number().int().positive().optional().describe('Calls per window.'),
  })
  .refine((b) => [b.per, b.group, b.claim].filter((v) => v !== undefined).length === 1, {
    message: 'a budget needs exactly one of per: subject, group or claim',
  })
  .refine((b) => b.tokens !== undefined || b.requests !== undefined || b.usd !== undefined, {
    message: 'a budget needs tokens, usd, requests or a mix',
  })
  .refine((b) => b.tokens === undefined || b.usd === undefined, {
    message: 'a budget counts tokens or usd, not both (use two budgets)',
  });

export const quotasSchema = z
  .strictObject({
    budgets: z.array(budget).default([]).describe('Budgets; each call is charged to every budget that covers it.'),
    /** Output tokens reserved when a call names no maximum (`max_tokens` and friends). */
    defaultMaxOutputTokens: z
      .number()
      .int()
      .positive()
      .default(4_096)
      .describe('Output tokens reserved when a call names no maximum (`max_tokens` and friends).'),
  })
  .prefault({})
  .superRefine((q, ctx) => {
    const seen = new Set<string>();
    q.budgets.forEach((b, index) => {
      if (seen.has(b.name))
        ctx.addIssue({ code: 'custom', path: ['budgets', index, 'name'], message: `duplicate budget "${b.name}"` });
      seen.add(b.name);
    });
  });

export type QuotasConfig = z.output<typeof quotasSchema>;
export type BudgetConfig = QuotasConfig['budgets'][number];
