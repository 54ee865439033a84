// One policy rule of a resource: whom it speaks for (groups, subjects, claims) and its verdict per kind or tag.
import { z } from 'zod';
import { OPERATION_KINDS, RISK_TAGS } from '../core/operation.js';
import { resourceMaskingSchema } from '../masking/config.js';
import { attributeConditionsSchema } from './attribute-condition-schema.js';
import { claimConditions } from './identity-schema.js';
import { thresholdFields } from './threshold-schema.js';

const selector = z.union([z.enum(OPERATION_KINDS), z.enum(Object.keys(RISK_TAGS) as [keyof typeof RISK_TAGS])], {
  error: `expected an operation kind (${OPERATION_KINDS.join(', ')}) or a risk tag (${Object.keys(RISK_TAGS).join(', ')})`,
});

export const policyRuleSchema = z
  .strictObject({
    groups: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('The rule speaks for callers in any of these groups.'),
    subjects: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('The rule speaks for callers whose subject matches any of these (`*` glob).'),
    claims: claimConditions
      .optional()
      .describe('The rule speaks for callers whose claims all match (path -> value, `*` glob or list).'),
    allow: z.array(selector).default([]).describe('Operation kinds or risk tags this rule allows.'),
    review: z.array(selector).default([]).describe('Operation kinds or risk tags this rule sends to human review.'),
    deny: z.array(selector).default([]).describe('Operation kinds or risk tags this rule denies.'),
    models: z
      .array(z.string().min(1))
      .optional()
      .describe('Model name patterns (`*` wildcard) this rule admits for inference calls; absent means any model.'),
    collections: z
      .array(z.string().min(1))
      .optional()
      .describe('Collection name patterns (`*` wildcard) this rule admits for vector-store calls; absent means any.'),
    targets: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'Names this rule speaks for (`*` wildcard): MCP tool and prompt names, resource URIs. A rule naming targets does not apply to operations on others, nor to operations without a target; a target with a `..` segment is denied by a matching glob but never allowed by one.',
      ),
    conditions: attributeConditionsSchema
      .optional()
      .describe(
        "Conditions on the operation's named values (an MCP tool call's arguments), by path: equals, oneOf, pattern, min, max, present. The rule applies only when all hold.",
      ),
    approvers: z
      .array(z.string().min(1))
      .default([])
      .describe('Groups who may approve what this rule sends to review.'),
    approvals: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(1)
      .describe('Distinct approvers needed before a review this rule asks for is approved.'),
    ...thresholdFields,
  })
  .refine((rule) => rule.allow.length + rule.review.length + rule.deny.length > 0, {
    message: 'a rule needs at least one of allow, review or deny',
  })
  .refine((rule) => rule.groups !== undefined || rule.subjects !== undefined || rule.claims !== undefined, {
    message: 'a rule needs at least one of groups, subjects or claims (who it speaks for)',
  });

/** Who may do what on an HTTP or PostgreSQL resource, and how its answers are masked. */
export const policyAndMaskingFields = {
  policy: z
    .array(policyRuleSchema)
    .default([])
    .describe('Policy rules: who may do what on this resource (nothing matching means deny).'),
  masking: resourceMaskingSchema
    .optional()
    .describe('Masking profile of this resource (inherits the top-level `masking` defaults).'),
};
