import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/core/audit-event.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { type AgentWorld, NO_BACKEND, pgResource, startAgentWorld, waitFor } from './agent-harness.js';

const RESOURCES = `
  - name: orders
    protocol: postgres
    via: agent
    target: { host: agent, database: orders, user: agent }
  - name: secrets
    protocol: postgres
    via: agent
    target: { host: agent, database: secrets, user: agent }
`;

const AGENT_POLICY = `
    - subjects: [agent-orders-*]
      resources: [orders]
`;

describe('agent admission: who may connect and what it may serve', () => {
  let world: AgentWorld;

  before(async () => {
    world = await startAgentWorld(NO_BACKEND, RESOURCES, AGENT_POLICY);
  });

  after(async () => {
    await world?.stop();
  });

  async function agentAudit(): Promise<AuditEvent[]> {
    await world.gateway.services.recorder.flush();
    const events = await world.gateway.services.store.readEvents(0, 10_000);
    const agentSessions = new Set(
      events.filter((e) => e.type === 'session.start' && e.payload.protocol === 'agent').map((e) => e.sessionId),
    );
    return events.filter((e) => agentSessions.has(e.sessionId));
  }

  async function refusedWith(token: string, resources: string[], reason: RegExp): Promise<void> {
    const before = (await agentAudit()).length;
    const agent = await world.startAgent(`refused-${before}`, {
      token,
      resources: resources.map((name) => pgResource(name, NO_BACKEND)),
      noWait: true,
    });
    await waitFor(() => agent.lastRefusal !== undefined);
    assert.match(agent.lastRefusal ?? '', reason);
    assert.equal(world.gateway.services.agents?.size, 0, 'a refused agent is never registered');
    await agent.stop();
    const events = (await agentAudit()).slice(before);
    const end = events.find((e) => e.type === 'session.end');
    assert.ok(end !== undefined, 'the refusal is audited');
    assert.match(String(end.payload.reason), /^refused: /);
  }

  test('a token signed by another key (forged) is refused and audited', async () => {
    const forger = await DevIssuer.open(
      { ...world.loaded.config.identity.devIssuer, keyFile: 'forger.jwk.json' },
      world.loaded.baseDir,
      { now: () => Date.now() },
    );
    const forged = await forger.mint({ subject: 'agent-orders-1', groups: [], ttlMs: 600_000 });
    await refusedWith(forged, ['orders'], /token not accepted/);
    const start = (await agentAudit()).find((e) => e.type === 'session.start' && e.payload.refused !== undefined);
    assert.equal(start?.payload.subject, '(unverified)', 'an unverified token does not name a subject in audit');
  });

  test('an expired token is refused and audited', async () => {
    const expired = await world.mint('agent-orders-1', [], { now: () => Date.now() - 2 * 3_600_000 });
    await refusedWith(expired, ['orders'], /token not accepted/);
  });

  test('an agent offering a resource its identity may not serve is refused whole', async () => {
    const token = await world.mint('agent-orders-1', []);
    await refusedWith(token, ['orders', 'secrets'], /may not serve secrets/);
  });

  test('an agent offering a resource that is not `via: agent` in the gateway config is refused', async () => {
    const token = await world.mint('agent-orders-1', []);
    await refusedWith(token, ['payroll'], /payroll is not a postgres resource via agent/);
  });

  test('an allowed agent is admitted, audited, and renews its token from the file before it expires', async () => {
    const short = await world.issuer.mint({ subject: 'agent-orders-1', groups: [], ttlMs: 3_000 });
    const agent = await world.startAgent('renewing', { token: short, resources: [pgResource('orders', NO_BACKEND)] });
    const registry = world.gateway.services.agents;
    assert.equal(registry?.size, 1);
    const first = registry?.list()[0];
    // The platform refreshes the file; the gateway asks again at three quarters of the token's life.
    const longer = await world.issuer.mint({ subject: 'agent-orders-1', groups: [], ttlMs: 600_000 });
    world.tokenFile('renewing', longer);
    await waitFor(() => {
      const agents = (world.gateway.services.agents as NonNullable<typeof registry>).list();
      return agents.length === 1 && agents[0]?.tokenExpiresAt !== first?.tokenExpiresAt;
    }, 8_000);
    const renewed = registry?.list()[0];
    assert.ok(Date.parse(renewed?.tokenExpiresAt ?? '') - Date.parse(first?.tokenExpiresAt ?? '') > 500_000);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    assert.equal(registry?.size, 1, 'still connected after the first token expired');
    assert.ok(agent.connected);
    const starts = (await agentAudit()).filter((e) => e.type === 'session.start' && e.payload.refused === undefined);
    assert.equal(starts.at(-1)?.payload.subject, 'agent-orders-1');
    await agent.stop();
    await waitFor(() => registry?.size === 0);
  });

  test('the agent verifies the gateway: a CA file works, a wrong pin means it never sends its token', async () => {
    const token = await world.mint('agent-orders-1', []);
    const viaCa = await world.startAgent('via-ca', {
      token,
      resources: [pgResource('orders', NO_BACKEND)],
      verify: { ca: 'tunnel.crt', serverName: 'localhost' },
    });
    assert.equal(world.gateway.services.agents?.size, 1);
    await viaCa.stop();
    await waitFor(() => world.gateway.services.agents?.size === 0);
    const before = (await agentAudit()).length;
    const wrongPin = await world.startAgent('wrong-pin', {
      token,
      resources: [pgResource('orders', NO_BACKEND)],
      verify: { pin: world.pin.replace(/^../, world.pin.startsWith('00') ? '11' : '00') },
      noWait: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(world.gateway.services.agents?.size, 0);
    assert.equal((await agentAudit()).length, before, 'no hello ever reached the gateway');
    assert.equal(wrongPin.connected, false);
    await wrongPin.stop();
  });
});
