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
    .regex(/^(?:[^.\s]+\.){1,2}[^.\s]+$/, 'expected table.column or schema.table.column (with * wildcards)'),
  style: style.default('redact'),
  /** Names the kind of value (`email`, `ssn`...) for labels, counts, partial forms and tokens; default `column`. */
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .optional(),
});

const rules = {
  /** Content scanning detectors; absent means the default set (all of them). */
  detectors: z.array(detector).optional(),
  /** Style for found values; `styles` overrides it per detector. */
  style: style.optional(),
  styles: z.partialRecord(detector, style).optional(),
  /** Scan content (HTTP bodies, every text column of SQL results) with the detectors. */
  scan: z.boolean().optional(),
  /** SQL result columns masked whole, whatever their content, found through the result's table and column. */
  columns: z.array(columnRule).optional(),
};

const groupRule = z.strictObject({ groups: z.array(z.string().min(1)).min(1), ...rules });

export const resourceMaskingSchema = z.strictObject({
  ...rules,
  /** Mask the prompt (message contents) of inference requests before they reach the model. */
  requests: z.boolean().default(true),
  /** Groups that see raw values (auditors); each exemption is noted in the audit record. */
  exempt: z.array(z.string().min(1)).default([]),
  groups: z.array(groupRule).default([]),
  /** HMAC key for `tokenize`; inherited from the top-level `masking.tokenKey` when absent. */
  tokenKey: z.string().min(16, 'the token key must be at least 16 characters').optional(),
  phoneRegions: z.array(region).optional(),
});

export const maskingSchema = z
  .strictObject({
    tokenKey: z.string().min(16, 'the token key must be at least 16 characters').optional(),
    /** Regions whose national phone formats are recognised; international (+) numbers always are. */
    phoneRegions: z.array(region).default(['US']),
  })
  .prefault({});

export type ResourceMaskingConfig = z.output<typeof resourceMaskingSchema>;
export type MaskingConfig = z.output<typeof maskingSchema>;
export type MaskingGroupRule = ResourceMaskingConfig['groups'][number];
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
