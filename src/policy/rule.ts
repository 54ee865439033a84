import type { PolicyRuleConfig } from '../config/schema.js';
import { ClaimConditions } from '../core/claim-condition.js';
import type { ThresholdExceeded, Verdict } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import { isRiskTag, type Operation, REVIEWED_UNLESS_NAMED, RISK_TAGS } from '../core/operation.js';
import { AttributeConditions } from './attribute-conditions.js';
import { hasDotDotSegment, wildcardMatcher } from './pattern.js';
import { describeExceeded, RuleThresholds } from './thresholds.js';

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
  /** Set when one of the rule's thresholds raised the verdict. */
  readonly threshold?: ThresholdExceeded;
}

export type RuleEvaluation =
  | { readonly applies: true; readonly outcome: RuleOutcome }
  | { readonly applies: false; readonly modelRejected: boolean; readonly collectionRejected?: boolean };

/** What a rule needs of the caller: groups always; subject and claims only for rules that name them. */
export type RuleCaller = Pick<Identity, 'groups'> & Partial<Pick<Identity, 'subject' | 'claims'>>;

/**
 * One compiled policy rule: whom it speaks for (groups, subjects, claims: every one it names must match, any entry
 * of a list), and the verdict per kind or tag it names.
 */
export class PolicyRule {
  readonly id: string;
  readonly groups: readonly string[];
  readonly subjects: readonly string[] | undefined;
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  readonly approvers: readonly string[];
  /** Distinct approvals a review this rule asks for needs. */
  readonly approvals: number;
  private readonly verdictBySelector: ReadonlyMap<string, Verdict>;
  private readonly modelMatchers: ((model: string) => boolean)[] | undefined;
  private readonly collectionMatchers: ((collection: string) => boolean)[] | undefined;
  private readonly subjectMatchers: ((subject: string) => boolean)[] | undefined;
  private readonly claimConditions: ClaimConditions | undefined;
  private readonly targetMatchers: ((target: string) => boolean)[] | undefined;
  /** Whether some target pattern has a wildcard (a glob cannot vouch for a target with a `..` segment). */
  private readonly targetGlobs: boolean;
  private readonly conditions: AttributeConditions | undefined;
  readonly thresholds: RuleThresholds;

  constructor(id: string, config: PolicyRuleConfig) {
    this.id = id;
    this.groups = config.groups ?? [];
    this.subjects = config.subjects;
    this.claims = config.claims;
    this.subjectMatchers = config.subjects?.map(wildcardMatcher);
    this.claimConditions = config.claims === undefined ? undefined : new ClaimConditions(config.claims);
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
    this.targetMatchers = config.targets?.map(wildcardMatcher);
    this.targetGlobs = config.targets?.some((target) => target.includes('*')) ?? false;
    this.conditions = config.conditions === undefined ? undefined : new AttributeConditions(config.conditions);
    this.thresholds = new RuleThresholds(config);
  }

  speaksFor(caller: RuleCaller): boolean {
    return this.matchedBy(caller) !== undefined;
  }

  /** What of the caller this rule matched (`group deployers`, `subject repo:acme/*`, `claim ref=refs/heads/main`). */
  matchedBy(caller: RuleCaller): string[] | undefined {
    const matched: string[] = [];
    if (this.groups.length > 0 || (this.subjects === undefined && this.claims === undefined)) {
      const group = this.groups.find((g) => caller.groups.includes(g));
      if (group === undefined) return undefined;
      matched.push(`group ${group}`);
    }
    if (this.subjectMatchers !== undefined) {
      const subject = caller.subject;
      const index = subject === undefined ? -1 : this.subjectMatchers.findIndex((m) => m(subject));
      if (index < 0) return undefined;
      matched.push(`subject ${(this.subjects as readonly string[])[index]}`);
    }
    if (this.claimConditions !== undefined) {
      const claims = caller.claims === undefined ? undefined : this.claimConditions.match(caller.claims);
      if (claims === undefined) return undefined;
      for (const claim of claims) matched.push(`claim ${claim}`);
    }
    return matched;
  }

  /** Whether the rule names targets or conditions (an operation's name or values decide whether it applies). */
  get narrowed(): boolean {
    return this.targetMatchers !== undefined || this.conditions !== undefined;
  }

  /**
   * `listing`: judging whether a caller may see a target at all (an MCP tool in `tools/list`), before any values are
   * known. A rule's conditions are then taken to hold when it would allow or review (some call may pass), and a
   * conditional deny is left out (some call may escape it); an unconditional deny still hides the target.
   */
  evaluate(operation: Operation, listing = false): RuleEvaluation {
    // A rule naming targets speaks for those only: an operation on another, or on none, falls to other rules. But
    // session control without a target (connecting, listing what there is: the lists are filtered per target) is
    // granted to whom such a rule grants anything, or its callers could never reach what it allows.
    if (this.targetMatchers !== undefined && operation.kind === 'session' && operation.target === undefined) {
      const grants = [...this.verdictBySelector.values()].some((verdict) => verdict !== 'deny');
      return grants
        ? { applies: true, outcome: { verdict: 'allow', selector: 'allow: session', implicit: false } }
        : { applies: false, modelRejected: false };
    }
    // A target with a `..` segment (a resource URI) is not vouched for by a glob: allowing rules leave it alone.
    let targetUnsure = false;
    if (this.targetMatchers !== undefined) {
      const target = operation.target;
      if (target === undefined || !this.targetMatchers.some((matches) => matches(target)))
        return { applies: false, modelRejected: false };
      targetUnsure = this.targetGlobs && hasDotDotSegment(target);
    }
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
      } else if (REVIEWED_UNLESS_NAMED.has(tag)) {
        candidates.push({ verdict: 'review', selector: `implicit review: ${tag}`, implicit: false });
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
    if (targetUnsure && strictest.verdict !== 'deny') return { applies: false, modelRejected: false };
    if (this.conditions !== undefined) {
      const denies = strictest.verdict === 'deny';
      if (listing) {
        if (denies) return { applies: false, modelRejected: false };
      } else {
        const held = this.conditions.check(operation.attributes);
        // A value of a type a test cannot judge: an allowing rule does not apply, a denying one does.
        if (held === 'fails' || (held === 'unknown' && !denies)) return { applies: false, modelRejected: false };
      }
      strictest = { ...strictest, selector: `${strictest.selector} where ${this.conditions.describe()}` };
    }
    // A threshold limits what the rule grants: a figure over it raises the verdict, never lowers it.
    const exceeded = this.thresholds.exceeded(operation.estimates);
    if (exceeded !== undefined && SEVERITY[exceeded.over] > SEVERITY[strictest.verdict]) {
      const selector = `${exceeded.over}: ${describeExceeded(exceeded)}`;
      return { applies: true, outcome: { verdict: exceeded.over, selector, implicit: false, threshold: exceeded } };
    }
    return { applies: true, outcome: strictest };
  }
}
