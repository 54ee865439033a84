// Conditions of a policy rule on an operation's named values (an MCP tool call's arguments), by attribute path.
import { z } from 'zod';
import { claimPathProblem } from '../core/claim-path.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const attributeConditionSchema = z
  .strictObject({
    equals: scalar.optional().describe('The value must be exactly this (same type).'),
    oneOf: z.array(scalar).min(1).optional().describe('The value must be one of these (same type).'),
    pattern: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The value must be a string matching this `*` glob (`*` also matches `/`). A value with a `..` path segment is not judged: an allowing rule does not apply to it, a denying one does.',
      ),
    min: z.number().optional().describe('The value must be a number at least this.'),
    max: z.number().optional().describe('The value must be a number at most this.'),
    present: z.boolean().optional().describe('true: the value must be there; false: it must be absent.'),
  })
  .refine((c) => Object.keys(c).length > 0, { message: 'a condition needs at least one test' });

export const attributeConditionsSchema = z
  .record(z.string().min(1), attributeConditionSchema)
  .superRefine((conditions, ctx) => {
    for (const path of Object.keys(conditions)) {
      const problem = claimPathProblem(path);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [path], message: problem });
    }
  });

export type AttributeConditionConfig = z.output<typeof attributeConditionSchema>;
