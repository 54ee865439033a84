import type { ResourceConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Decision, EstimateFigure, ReasonCode } from '../core/decision.js';
import { REASONS } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { Operation } from '../core/operation.js';
import { type AccessGrant, type GrantSource, grantCovers } from './grants.js';
import { PolicyRule, type RuleOutcome } from './rule.js';

export interface PolicyContext {
  /** Issuer and subject matter only to access windows granted to one identity. */
  readonly identity: Pick<Identity, 'groups'> & Partial<Pick<Identity, 'issuer' | 'subject' | 'claims'>>;
  /**
   * Judging whether the caller may see a target at all (an MCP tool in a list), its values unknown: see
   * `PolicyRule.evaluate`. Never used to run anything.
   */
  readonly listing?: boolean;
}

export interface PolicyEngineOptions {
  /** Approved access windows; each acts as one more `allow` rule for its grantee until it expires. */
  readonly grants?: GrantSource;
  /** Checks grant expiry; required with `grants`. */
  readonly clock?: Clock;
}

/** What a rule that sends operations to review asks of the review: who approves and how many approvals. */
export interface ReviewRequirements {
  readonly approvers: readonly string[];
  readonly approvals: number;
}

/**
 * Decides every operation against the resource's rules, on every request. Protocol-neutral: it sees operations.
 *
 * Combining rules of several groups: an explicit `deny` in any rule the caller's groups reach wins; otherwise the
 * most permissive applicable rule decides (groups add permissions); nothing applicable means deny.
 */
export class PolicyEngine {
  private readonly rulesByResource: ReadonlyMap<string, readonly PolicyRule[]>;
  private readonly rulesById = new Map<string, PolicyRule>();
  /** Compiled rules of grants, kept as long as the grant object is (the source replaces objects on change). */
  private readonly grantRules = new WeakMap<AccessGrant, PolicyRule>();

  constructor(
    resources: readonly ResourceConfig[],
    private readonly options: PolicyEngineOptions = {},
  ) {
    if (options.grants !== undefined && options.clock === undefined) {
      throw new Error('PolicyEngine: grants need a clock to check their expiry');
    }
    this.rulesByResource = new Map(
      resources.map((r) => [
        r.name,
        r.policy.map((rule, index) => new PolicyRule(`resources.${r.name}.policy[${index}]`, rule)),
      ]),
    );
    for (const rules of this.rulesByResource.values()) for (const rule of rules) this.rulesById.set(rule.id, rule);
  }

  /** Approvers and approval count of the rule a `review` decision names (by `decision.rule.id`). */
  reviewRequirements(ruleId: string): ReviewRequirements | undefined {
    const rule = this.rulesById.get(ruleId);
    return rule === undefined ? undefined : { approvers: rule.approvers, approvals: rule.approvals };
  }

  decide(operation: Operation, context: PolicyContext): Decision {
    if (operation.unclassifiable !== undefined) return denyWithoutRule('unclassifiable', operation.unclassifiable);
    if (operation.kind === 'unknown') return denyWithoutRule('unknown-operation');
    const rules = this.rulesByResource.get(operation.resource) ?? [];
    const caller = context.identity;
    let best: Best | undefined;
    let modelRejected = false;
    let collectionRejected = false;
    for (const rule of rules) {
      if (!rule.speaksFor(caller)) continue;
      const evaluation = rule.evaluate(operation, context.listing === true);
      if (!evaluation.applies) {
        modelRejected ||= evaluation.modelRejected;
        collectionRejected ||= evaluation.collectionRejected === true;
        continue;
      }
      const { verdict, implicit, threshold } = evaluation.outcome;
      // A threshold's deny limits what this rule grants; another rule of the caller's may still allow.
      if (verdict === 'deny' && !implicit && threshold === undefined)
        return decision({ rule, ...evaluation.outcome }, 'rule-denies', caller);
      if (best === undefined || rank(verdict) < rank(best.verdict)) best = { rule, ...evaluation.outcome };
    }
    if (best?.verdict !== 'allow') {
      // Access windows only ever add permissions: an explicit deny above has already returned.
      for (const rule of this.grantRulesFor(operation.resource, context.identity)) {
        const evaluation = rule.evaluate(operation);
        if (!evaluation.applies) continue;
        if (best === undefined || rank(evaluation.outcome.verdict) < rank(best.verdict))
          best = { rule, ...evaluation.outcome };
      }
    }
    if (best === undefined)
      return denyWithoutRule(
        modelRejected ? 'model-not-allowed' : collectionRejected ? 'collection-not-allowed' : 'no-matching-rule',
      );
    const reason: ReasonCode = best.implicit
      ? 'dangerous-tag'
      : best.threshold !== undefined
        ? 'threshold-exceeded'
        : best.verdict === 'allow'
          ? 'rule-allows'
          : best.verdict === 'review'
            ? 'rule-reviews'
            : 'rule-denies';
    return decision(best, reason, caller);
  }

  /**
   * The figures rules speaking for this caller on this resource limit: a protocol measures them (EXPLAIN, a count,
   * a token count) before asking `decide`, and only when a rule asks.
   */
  wantedEstimates(resource: string, caller: PolicyContext['identity']): EstimateFigure[] {
    const figures = new Set<EstimateFigure>();
    for (const rule of this.rulesByResource.get(resource) ?? [])
      if (rule.speaksFor(caller)) for (const figure of rule.thresholds.figures()) figures.add(figure);
    return [...figures];
  }

  private grantRulesFor(resource: string, identity: PolicyContext['identity']): PolicyRule[] {
    const grants = this.options.grants?.grantsFor(resource);
    if (grants === undefined || grants.length === 0) return [];
    const now = (this.options.clock as Clock).now();
    const rules: PolicyRule[] = [];
    for (const grant of grants) {
      if (grant.expiresAt <= now || !grantCovers(grant, identity)) continue;
      let rule = this.grantRules.get(grant);
      if (rule === undefined) {
        const groups = grant.group === undefined ? [`${grant.issuer}/${grant.subject}`] : [grant.group];
        rule = new PolicyRule(`access-window[${grant.reviewId}]`, {
          groups,
          allow: [grant.kind],
          review: [],
          deny: [],
          approvers: [],
          approvals: 1,
        });
        this.grantRules.set(grant, rule);
      }
      rules.push(rule);
    }
    return rules;
  }
}

function rank(verdict: Decision['verdict']): number {
  return verdict === 'allow' ? 0 : verdict === 'review' ? 1 : 2;
}

interface Best extends RuleOutcome {
  readonly rule: PolicyRule;
}

function decision(best: Best, reason: ReasonCode, caller: PolicyContext['identity']): Decision {
  const { rule, verdict, selector, threshold } = best;
  const matched = rule.matchedBy(caller);
  const resultLimits = verdict === 'allow' ? rule.thresholds.resultLimits : undefined;
  return {
    verdict,
    reason,
    rule: { id: rule.id, groups: rule.groups, selector, ...(matched === undefined ? {} : { matched }) },
    message: `${REASONS[reason]} (${rule.id}, ${selector})`,
    ...(verdict === 'review' ? { approverGroups: rule.approvers } : {}),
    ...(threshold === undefined ? {} : { threshold }),
    ...(resultLimits === undefined ? {} : { resultLimits }),
  };
}

function denyWithoutRule(reason: ReasonCode, detail?: string): Decision {
  return {
    verdict: 'deny',
    reason,
    rule: { id: 'default-deny', groups: [], selector: reason },
    message: detail === undefined ? REASONS[reason] : `${REASONS[reason]}: ${detail}`,
  };
}
