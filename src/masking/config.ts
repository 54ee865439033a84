import { z } from 'zod';
import { DETECTOR_TYPES, MASK_STYLES } from './names.js';

/**
 * The masking part of the configuration. Top level: the token key (a secret reference) and phone regions, inherited
 * by every resource. Per resource: which detectors scan content and in which style, SQL column rules, exempt groups,
 * and per-group overrides (first matching entry wins).
 */
const detector = z.enum(DETECTOR_TYPES, { error: `expected a detector: ${DETECTOR_TYPES.join(', ')}` });
const style = z.enum(MASK_STYLES, { error: `expected a masking style: ${MASK_STYLES.join(', ')}` });
const region = z.string().regex(/^[A-Z]{2}$/, 'expected a two-letter region code such as US or GB');

const columnRule = z.strictObject({
  /** `table.column` or `schema.table.column`; `*` matches any name part: `users.email`, `*.ssn`, `crm.*.phone`. */
  column: z
    .string()
    .regex(/^(?:[^.\s]+\.){1,2}[^.\s]+$/, 'expected table.column or schema.table.column (with * wildcards)')
    .describe(
      '`table.column` or `schema.table.column`; `*` matches any name part: `users.email`, `*.ssn`, `crm.*.phone`.',
    ),
  style: style
    .default('redact')
    .describe("Style for the column's values (`redact`, `partial`, `hash`, `tokenize`...)."),
  /** Names the kind of value (`email`, `ssn`...) for labels, counts, partial forms and tokens; default `column`. */
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .optional()
    .describe(
      'Names the kind of value (`email`, `ssn`...) for labels, counts, partial forms and tokens; default `column`.',
    ),
});

const rules = {
  /** Content scanning detectors; absent means the default set (all of them). */
  detectors: z
    .array(detector)
    .optional()
    .describe('Content scanning detectors; absent means the default set (all of them).'),
  /** Style for found values; `styles` overrides it per detector. */
  style: style.optional().describe('Style for found values; `styles` overrides it per detector.'),
  styles: z.partialRecord(detector, style).optional().describe('Style per detector type, overriding `style`.'),
  /** Scan content (HTTP bodies, every text column of SQL results) with the detectors. */
  scan: z
    .boolean()
    .optional()
    .describe('Scan content (HTTP bodies, every text column of SQL results) with the detectors.'),
  /** SQL result columns masked whole, whatever their content, found through the result's table and column. */
  columns: z
    .array(columnRule)
    .optional()
    .describe("SQL result columns masked whole, whatever their content, found through the result's table and column."),
};

const groupRule = z.strictObject({
  groups: z.array(z.string().min(1)).min(1).describe('Callers in any of these groups get this profile instead.'),
  ...rules,
});

export const resourceMaskingSchema = z.strictObject({
  ...rules,
  /** Mask the prompt (message contents) of inference requests before they reach the model. */
  requests: z
    .boolean()
    .default(true)
    .describe('Mask the prompt (message contents) of inference requests before they reach the model.'),
  /** Groups that see raw values (auditors); each exemption is noted in the audit record. */
  exempt: z
    .array(z.string().min(1))
    .default([])
    .describe('Groups that see raw values (auditors); each exemption is noted in the audit record.'),
  groups: z
    .array(groupRule)
    .default([])
    .describe("Per-group profiles: the first entry naming one of the caller's groups replaces the resource's rules."),
  /** HMAC key for `tokenize`; inherited from the top-level `masking.tokenKey` when absent. */
  tokenKey: z
    .string()
    .min(16, 'the token key must be at least 16 characters')
    .optional()
    .describe('HMAC key for `tokenize`; inherited from the top-level `masking.tokenKey` when absent.'),
  phoneRegions: z
    .array(region)
    .optional()
    .describe(
      'Regions whose national phone formats are recognised; inherited from the top-level `masking.phoneRegions` when absent.',
    ),
});

export const maskingSchema = z
  .strictObject({
    tokenKey: z
      .string()
      .min(16, 'the token key must be at least 16 characters')
      .optional()
      .describe('HMAC key (at least 16 characters) for the `tokenize` style, from a secret reference.'),
    /** Regions whose national phone formats are recognised; international (+) numbers always are. */
    phoneRegions: z
      .array(region)
      .default(['US'])
      .describe('Regions whose national phone formats are recognised; international (+) numbers always are.'),
  })
  .prefault({});

export type ResourceMaskingConfig = z.output<typeof resourceMaskingSchema>;
export type MaskingConfig = z.output<typeof maskingSchema>;
export type ColumnRuleConfig = NonNullable<ResourceMaskingConfig['columns']>[number];

/** True when some rule of the resource asks for tokens. */
function usesTokens(masking: ResourceMaskingConfig): boolean {
  const uses = (r: Pick<ResourceMaskingConfig, 'style' | 'styles' | 'columns'>) =>
    r.style === 'tokenize' ||
    Object.values(r.styles ?? {}).includes('tokenize') ||
    (r.columns ?? []).some((c) => c.style === 'tokenize');
  return uses(masking) || masking.groups.some(uses);
}

/** Issues for the config's superRefine: tokenization without a key. */
export function maskingIssues(
  top: MaskingConfig,
  resources: readonly { readonly masking?: ResourceMaskingConfig | undefined }[],
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  resources.forEach((resource, index) => {
    const masking = resource.masking;
    if (masking && usesTokens(masking) && masking.tokenKey === undefined && top.tokenKey === undefined)
      issues.push({
        path: ['resources', index, 'masking'],
        message: 'tokenize needs a key: set masking.tokenKey (e.g. ${env:GATEHOUSE_MASKING_KEY})',
      });
  });
  return issues;
}

/** Each resource's masking inherits the top-level key and phone regions, so a resource's config is self-contained. */
export function inheritMasking<T extends { masking: MaskingConfig; resources: { masking?: ResourceMaskingConfig }[] }>(
  config: T,
): T {
  for (const resource of config.resources) {
    const masking = resource.masking;
    if (masking === undefined) continue;
    if (masking.tokenKey === undefined && config.masking.tokenKey !== undefined)
      masking.tokenKey = config.masking.tokenKey;
    masking.phoneRegions ??= config.masking.phoneRegions;
  }
  return config;
}
