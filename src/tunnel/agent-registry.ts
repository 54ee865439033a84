import type { ClientHttp2Session } from 'node:http2';
import type { Identity } from '../core/identity.js';

/** One connected, admitted agent. */
export interface ConnectedAgent {
  /** Unique per connection: `name#n`. */
  readonly id: string;
  readonly name: string;
  readonly group: string | undefined;
  identity: Identity;
  readonly resources: readonly string[];
  readonly session: ClientHttp2Session;
  readonly connectedAt: number;
  lastSeen: number;
  /** Streams now open through this agent (spreading picks the least busy). */
  active: number;
}

export interface AgentSummary {
  readonly id: string;
  readonly name: string;
  readonly group: string | null;
  readonly subject: string;
  readonly resources: readonly string[];
  readonly connectedAt: string;
  readonly lastSeen: string;
  readonly activeStreams: number;
  /** When the agent's current token expires (it renews before then). */
  readonly tokenExpiresAt: string;
}

/** The agents connected now. New connections for a resource go to the least busy agent serving it (ties rotate). */
export class AgentRegistry {
  private readonly agents = new Map<string, ConnectedAgent>();
  private turn = 0;

  add(agent: ConnectedAgent): void {
    this.agents.set(agent.id, agent);
  }

  remove(id: string): void {
    this.agents.delete(id);
  }

  /** An agent able to serve `resource` (within `group` when given), or undefined when none is connected. */
  pick(resource: string, group: string | undefined): ConnectedAgent | undefined {
    const candidates = [...this.agents.values()].filter(
      (agent) =>
        agent.resources.includes(resource) &&
        (group === undefined || agent.group === group) &&
        !agent.session.closed &&
        !agent.session.destroyed,
    );
    if (candidates.length === 0) return undefined;
    const least = Math.min(...candidates.map((agent) => agent.active));
    const idle = candidates.filter((agent) => agent.active === least);
    this.turn = (this.turn + 1) % 1_000_000;
    return idle[this.turn % idle.length];
  }

  list(): AgentSummary[] {
    return [...this.agents.values()].map((agent) => ({
      id: agent.id,
      name: agent.name,
      group: agent.group ?? null,
      subject: agent.identity.subject,
      resources: agent.resources,
      connectedAt: new Date(agent.connectedAt).toISOString(),
      lastSeen: new Date(agent.lastSeen).toISOString(),
      activeStreams: agent.active,
      tokenExpiresAt: new Date(agent.identity.expiresAt).toISOString(),
    }));
  }

  get size(): number {
    return this.agents.size;
  }
}
