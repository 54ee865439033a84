import type { PolicyRuleConfig } from '../config/schema.js';
import type { Verdict } from '../core/decision.js';
import { isRiskTag, type Operation, RISK_TAGS } from '../core/operation.js';
import { wildcardMatcher } from './pattern.js';

/** Verdicts ordered from least to most restrictive; a rule's verdict is the most restrictive that applies. */
const SEVERITY: Readonly<Record<Verdict, number>> = Object.assign(Object.create(null), {
  allow: 0,
  review: 1,
  deny: 2,
});

export interface RuleOutcome {
  readonly verdict: Verdict;
  /** `allow: read`, `review: drop`, `implicit deny: copy-program`... */
  readonly selector: string;
  /** True when the verdict comes from a tag no rule names and that is dangerous by default. */
  readonly implicit: boolean;
}

export type RuleEvaluation =
  | { readonly applies: true; readonly outcome: RuleOutcome }
  | { readonly applies: false; readonly modelRejected: boolean; readonly collectionRejected?: boolean };

/** One compiled policy rule: which groups it speaks for, and the verdict per kind or tag it names. */
export class PolicyRule {
  readonly id: string;
  readonly groups: readonly string[];
  readonly approvers: readonly string[];
  /** Distinct approvals a review this rule asks for needs. */
  readonly approvals: number;
  private readonly verdictBySelector: ReadonlyMap<string, Verdict>;
  private readonly modelMatchers: ((model: string) => boolean)[] | undefined;
  private readonly collectionMatchers: ((collection: string) => boolean)[] | undefined;

  constructor(id: string, config: PolicyRuleConfig) {
    this.id = id;
    this.groups = config.groups;
    this.approvers = config.approvers;
    this.approvals = config.approvals ?? 1;
    const verdicts = new Map<string, Verdict>();
    for (const verdict of ['allow', 'review', 'deny'] as const) {
      for (const selector of config[verdict]) {
        const previous = verdicts.get(selector);
        if (previous === undefined || SEVERITY[verdict] > SEVERITY[previous]) verdicts.set(selector, verdict);
      }
    }
    this.verdictBySelector = verdicts;
    this.modelMatchers = config.models?.map(wildcardMatcher);
    this.collectionMatchers = config.collections?.map(wildcardMatcher);
  }

  speaksFor(groups: readonly string[]): boolean {
    return this.groups.some((g) => groups.includes(g));
  }

  evaluate(operation: Operation): RuleEvaluation {
    const candidates: RuleOutcome[] = [];
    // Session and transaction control is harmless: whoever may read may run it.
    const kindSelector =
      operation.kind === 'session' && !this.verdictBySelector.has('session') ? 'read' : operation.kind;
    const kindVerdict = this.verdictBySelector.get(kindSelector);
    if (kindVerdict !== undefined)
      candidates.push({ verdict: kindVerdict, selector: `${kindVerdict}: ${kindSelector}`, implicit: false });
    let namedTag = false;
    for (const tag of operation.tags) {
      const tagVerdict = this.verdictBySelector.get(tag);
      if (tagVerdict !== undefined) {
        namedTag = true;
        candidates.push({ verdict: tagVerdict, selector: `${tagVerdict}: ${tag}`, implicit: false });
      } else if (isRiskTag(tag) && RISK_TAGS[tag].dangerous) {
        candidates.push({ verdict: 'deny', selector: `implicit deny: ${tag}`, implicit: true });
      }
    }
    if (kindVerdict === undefined && !namedTag) return { applies: false, modelRejected: false };
    if (operation.model !== undefined && this.modelMatchers !== undefined) {
      const model = operation.model;
      if (!this.modelMatchers.some((matches) => matches(model))) return { applies: false, modelRejected: true };
    }
    // A rule naming collections does not speak for others: the operation falls to other rules or default deny.
    if (operation.collection !== undefined && this.collectionMatchers !== undefined) {
      const collection = operation.collection;
      if (!this.collectionMatchers.some((matches) => matches(collection)))
        return { applies: false, modelRejected: false, collectionRejected: true };
    }
    let strictest = candidates[0] as RuleOutcome;
    for (const candidate of candidates)
      if (SEVERITY[candidate.verdict] > SEVERITY[strictest.verdict]) strictest = candidate;
    return { applies: true, outcome: strictest };
  }
}
