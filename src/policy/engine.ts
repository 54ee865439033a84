import type { ResourceConfig } from '../config/schema.js';
import type { Decision, ReasonCode } from '../core/decision.js';
import { REASONS } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { Operation } from '../core/operation.js';
import { PolicyRule } from './rule.js';

export interface PolicyContext {
  readonly identity: Pick<Identity, 'groups'>;
}

/**
 * Decides every operation against the resource's rules, on every request. Protocol-neutral: it sees operations.
 *
 * Combining rules of several groups: an explicit `deny` in any rule the caller's groups reach wins; otherwise the
 * most permissive applicable rule decides (groups add permissions); nothing applicable means deny.
 */
export class PolicyEngine {
  private readonly rulesByResource: ReadonlyMap<string, readonly PolicyRule[]>;

  constructor(resources: readonly ResourceConfig[]) {
    this.rulesByResource = new Map(
      resources.map((r) => [
        r.name,
        r.policy.map((rule, index) => new PolicyRule(`resources.${r.name}.policy[${index}]`, rule)),
      ]),
    );
  }

  decide(operation: Operation, context: PolicyContext): Decision {
    if (operation.unclassifiable !== undefined) return denyWithoutRule('unclassifiable', operation.unclassifiable);
    if (operation.kind === 'unknown') return denyWithoutRule('unknown-operation');
    const rules = this.rulesByResource.get(operation.resource) ?? [];
    const groups = context.identity.groups;
    let best: { rule: PolicyRule; verdict: Decision['verdict']; selector: string; implicit: boolean } | undefined;
    let modelRejected = false;
    for (const rule of rules) {
      if (!rule.speaksFor(groups)) continue;
      const evaluation = rule.evaluate(operation);
      if (!evaluation.applies) {
        modelRejected ||= evaluation.modelRejected;
        continue;
      }
      const { verdict, selector, implicit } = evaluation.outcome;
      if (verdict === 'deny' && !implicit) return decision(rule, 'deny', selector, 'rule-denies');
      if (best === undefined || rank(verdict) < rank(best.verdict)) best = { rule, verdict, selector, implicit };
    }
    if (best === undefined) return denyWithoutRule(modelRejected ? 'model-not-allowed' : 'no-matching-rule');
    const reason: ReasonCode = best.implicit
      ? 'dangerous-tag'
      : best.verdict === 'allow'
        ? 'rule-allows'
        : best.verdict === 'review'
          ? 'rule-reviews'
          : 'rule-denies';
    return decision(best.rule, best.verdict, best.selector, reason);
  }
}

function rank(verdict: Decision['verdict']): number {
  return verdict === 'allow' ? 0 : verdict === 'review' ? 1 : 2;
}

function decision(rule: PolicyRule, verdict: Decision['verdict'], selector: string, reason: ReasonCode): Decision {
  return {
    verdict,
    reason,
    rule: { id: rule.id, groups: rule.groups, selector },
    message: `${REASONS[reason]} (${rule.id}, ${selector})`,
    ...(verdict === 'review' ? { approverGroups: rule.approvers } : {}),
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
