import type { AgentRuleConfig } from '../config/agents-schema.js';
import type { ResourceConfig } from '../config/schema.js';
import type { Identity } from '../core/identity.js';
import { wildcardMatcher } from '../core/wildcard.js';
import type { AgentHello } from './tunnel-protocol.js';

export type AgentAdmission =
  | { readonly admitted: true; readonly resources: readonly string[] }
  | { readonly admitted: false; readonly reason: string };

/**
 * Decides whether a verified agent identity may serve what it offers. Allow-list: every offered resource must be a
 * configured `via: agent` resource of the same protocol that some rule grants this identity (and its group), or the
 * agent is refused whole, so a misconfigured or compromised agent never half-joins.
 */
export class AgentPolicy {
  private readonly rules: readonly {
    readonly subject: (value: string) => boolean;
    readonly groups: ReadonlySet<string>;
    readonly anySubject: boolean;
    readonly resources: readonly ((value: string) => boolean)[];
    readonly agentGroups: ReadonlySet<string>;
  }[];

  constructor(
    rules: readonly AgentRuleConfig[],
    private readonly resources: readonly ResourceConfig[],
  ) {
    this.rules = rules.map((rule) => {
      const subjects = rule.subjects.map(wildcardMatcher);
      return {
        subject: (value: string) => subjects.some((match) => match(value)),
        anySubject: rule.subjects.length === 0 && rule.groups.length === 0,
        groups: new Set(rule.groups),
        resources: rule.resources.map(wildcardMatcher),
        agentGroups: new Set(rule.agentGroups),
      };
    });
  }

  admit(identity: Identity, hello: AgentHello): AgentAdmission {
    if (hello.resources.length === 0) return { admitted: false, reason: 'the agent offers no resource' };
    const names: string[] = [];
    for (const offered of hello.resources) {
      const resource = this.resources.find((r) => r.name === offered.name);
      if (resource === undefined || resource.via !== 'agent' || resource.protocol !== offered.protocol)
        return { admitted: false, reason: `resource ${offered.name} is not a ${offered.protocol} resource via agent` };
      if (!this.allows(identity, hello.group, offered.name))
        return { admitted: false, reason: `identity ${identity.subject} may not serve ${offered.name}` };
      names.push(offered.name);
    }
    return { admitted: true, resources: names };
  }

  private allows(identity: Identity, group: string | undefined, resource: string): boolean {
    return this.rules.some(
      (rule) =>
        (rule.anySubject || rule.subject(identity.subject) || identity.groups.some((g) => rule.groups.has(g))) &&
        rule.resources.some((match) => match(resource)) &&
        (rule.agentGroups.size === 0 || (group !== undefined && rule.agentGroups.has(group))),
    );
  }
}
