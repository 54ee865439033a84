import { type ColumnRule, compileColumnRules } from './column-rules.js';
import type { ResourceMaskingConfig } from './config.js';
import type { MaskCounts } from './counts.js';
import { DETECTOR_TYPES, detectorTable } from './detectors/index.js';
import type { MaskStyle } from './names.js';
import { Redactor } from './redactor.js';
import { renderMasked, Tokenizer, type ValueKind } from './styles.js';

/** Everything needed to mask one caller's traffic on one resource. Protocol-neutral. */
export interface MaskingPlan {
  /** Which profile applies, for the audit record: `resource` or `groups[1]`. */
  readonly profile: string;
  /** Content scanning; undefined when `scan: false`. */
  readonly redactor: Redactor | undefined;
  /** SQL column rules (matched through the result's table and column). */
  readonly columns: readonly ColumnRule[];
  /** Mask inference request bodies before they reach the model. */
  readonly requests: boolean;
  /**
   * Masks a whole value as a kind (column rules), counting the kind once. A pure function of the value for a given
   * kind and style: results are cached by the value's bytes (protocols/postgres/masking/masked-value-cache.ts).
   */
  maskValue(kind: ValueKind, style: MaskStyle, value: string, counts: MaskCounts): string;
}

/** What applies to one caller: nothing, an exemption (recorded) or a plan. */
export type MaskingResolution =
  | { readonly mode: 'none' }
  | { readonly mode: 'exempt'; readonly group: string }
  | { readonly mode: 'mask'; readonly plan: MaskingPlan };

type Rules = Pick<ResourceMaskingConfig, 'detectors' | 'style' | 'styles' | 'scan' | 'columns'>;

/**
 * A resource's masking, compiled once: the resource's own plan and one per group override. `resolve` picks by the
 * caller's groups: an exempt group sees raw values; otherwise the first group rule that names one of the caller's
 * groups replaces the fields it sets; otherwise the resource's plan applies.
 */
export class MaskingProfiles {
  private readonly base: MaskingPlan;
  private readonly byGroup: { readonly groups: readonly string[]; readonly plan: MaskingPlan }[];

  constructor(private readonly config: ResourceMaskingConfig) {
    const detectors = detectorTable({ phoneRegions: config.phoneRegions ?? ['US'] });
    const tokenizer = config.tokenKey === undefined ? undefined : new Tokenizer(config.tokenKey);
    const compile = (profile: string, rules: Rules): MaskingPlan => {
      const names = rules.detectors ?? DETECTOR_TYPES.filter((type) => detectors[type].defaultOn);
      const style = rules.style ?? 'redact';
      const styles: Readonly<Record<string, MaskStyle | undefined>> = rules.styles ?? {};
      const scan = rules.scan ?? true;
      return {
        profile,
        redactor: scan
          ? new Redactor(
              names.map((name) => detectors[name]),
              (type) => styles[type] ?? style,
              tokenizer,
            )
          : undefined,
        columns: compileColumnRules(rules.columns ?? [], detectors),
        requests: config.requests,
        maskValue: (kind, valueStyle, value, counts) => {
          counts.add(kind.type);
          return renderMasked(valueStyle, kind, value, tokenizer);
        },
      };
    };
    this.base = compile('resource', config);
    this.byGroup = config.groups.map((rule, index) => ({
      groups: rule.groups,
      plan: compile(`groups[${index}]`, {
        detectors: rule.detectors ?? config.detectors,
        style: rule.style ?? config.style,
        styles: rule.styles ?? config.styles,
        scan: rule.scan ?? config.scan,
        columns: rule.columns ?? config.columns,
      }),
    }));
  }

  resolve(groups: readonly string[]): MaskingResolution {
    const exempt = this.config.exempt.find((group) => groups.includes(group));
    if (exempt !== undefined) return { mode: 'exempt', group: exempt };
    const override = this.byGroup.find((entry) => entry.groups.some((group) => groups.includes(group)));
    const plan = override?.plan ?? this.base;
    if (plan.redactor === undefined && plan.columns.length === 0 && !plan.requests) return { mode: 'none' };
    return { mode: 'mask', plan };
  }
}

const compiled = new WeakMap<ResourceMaskingConfig, MaskingProfiles>();

/**
 * The masking that applies to a caller of a resource. Compiled profiles are cached per config object, so every
 * listener and session shares them without extra wiring.
 */
export function resolveMasking(
  config: ResourceMaskingConfig | undefined,
  groups: readonly string[],
): MaskingResolution {
  if (config === undefined) return { mode: 'none' };
  let profiles = compiled.get(config);
  if (profiles === undefined) {
    profiles = new MaskingProfiles(config);
    compiled.set(config, profiles);
  }
  return profiles.resolve(groups);
}

/** What the operation's audit record says about masking (recorded with the decision, before the backend runs). */
export function maskingNote(resolution: MaskingResolution): Record<string, unknown> {
  switch (resolution.mode) {
    case 'none':
      return {};
    case 'exempt':
      return { masking: { exempt: true, group: resolution.group } };
    case 'mask':
      return { masking: { profile: resolution.plan.profile } };
  }
}
