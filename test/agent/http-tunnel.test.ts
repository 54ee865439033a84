import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import type { Agent } from '../../src/agent/agent.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { type AgentWorld, freePort, NO_BACKEND, startAgentWorld, waitFor } from './agent-harness.js';

const UPSTREAM_KEY = 'sk-upstream-only-the-agent-knows-0123456789';

const RESOURCES = `
  - name: llm
    protocol: http
    pathPrefix: /llm
    via: agent
    target: http://agent.invalid
    policy:
      - groups: [rag-readers]
        allow: [read, write]
  - name: llm-down
    protocol: http
    pathPrefix: /llm-down
    via: agent
    target: http://agent.invalid
    policy:
      - groups: [rag-readers]
        allow: [read, write]
`;

const AGENT_POLICY = `
    - subjects: [agent-llm]
      resources: [llm, llm-down]
`;

describe('HTTP through the agent tunnel (OpenAI SDK against the stand-in upstream)', () => {
  let world: AgentWorld;
  let standIn: OpenAiStandIn;
  let agent: Agent;
  let token: string;

  before(async () => {
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY, streamDelayMs: 5 });
    const target = await standIn.start();
    world = await startAgentWorld(NO_BACKEND, RESOURCES, AGENT_POLICY);
    token = await world.mint('rag-job', ['rag-readers']);
    agent = await world.startAgent('agent-llm', {
      token: await world.mint('agent-llm', []),
      resources: [
        { name: 'llm', protocol: 'http', target, credential: { value: `Bearer ${UPSTREAM_KEY}` } },
        // Nothing listens there: the agent cannot reach this upstream.
        {
          name: 'llm-down',
          protocol: 'http',
          target: `http://127.0.0.1:${await freePort()}`,
          credential: { value: 'x' },
        },
      ],
    });
  });

  after(async () => {
    await world?.stop();
    await standIn?.stop();
  });

  const sdk = () =>
    new OpenAI({
      baseURL: `http://127.0.0.1:${world.gateway.addresses.http?.port}/llm/v1`,
      apiKey: token,
      maxRetries: 0,
    });

  test('a chat completion goes through the agent, which injects the credential', async () => {
    const before = standIn.requestCount;
    const completion = await sdk().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'ping through the tunnel' }],
    });
    assert.equal(completion.choices[0]?.message.content, 'You said: ping through the tunnel');
    assert.equal(standIn.requestCount, before + 1);
    const seen = standIn.seen.at(-1);
    assert.equal(seen?.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.ok(!JSON.stringify(seen?.headers).includes(token), 'the caller token never reaches the upstream');
    await world.gateway.services.recorder.flush();
    const events = await world.gateway.services.store.readEvents(0, 10_000);
    const results = events
      .map((e) => (e.type === 'operation' ? (e.payload.result as Record<string, unknown> | undefined) : e.payload))
      .filter((r) => r !== undefined && typeof r.servedBy === 'string');
    assert.ok(results.length > 0, 'the operation result names the agent that carried it');
    assert.match(String(results.at(-1)?.servedBy), /^agent-llm#\d+$/);
  });

  test('a streamed completion arrives in several chunks through the tunnel', async () => {
    const stream = await sdk().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'a longer message that is split into several chunks' }],
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'You said: a longer message that is split into several chunks');
    assert.ok(chunks > 3, `several chunks arrived (${chunks})`);
  });

  test('the upstream key is in the agent config only: not in the gateway config or logs', () => {
    assert.ok(!readFileSync(world.gatewayFile, 'utf8').includes(UPSTREAM_KEY));
    assert.ok(!world.gatewayLog.lines.some((line) => line.includes(UPSTREAM_KEY)));
  });

  test('a call the agent cannot carry to its upstream fails with 502, and its record names the agent', async () => {
    const res = await fetch(`http://127.0.0.1:${world.gateway.addresses.http?.port}/llm-down/v1/models`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.equal(body.error.code, 'upstream.unavailable');
    assert.equal(body.error.servedBy, undefined, 'the agent id is recorded, not a public detail');
    await world.gateway.services.recorder.flush();
    const events = await world.gateway.services.store.readEvents(0, 10_000);
    const failed = events
      // A result rides on its operation record, or follows it (operation.result) when the operation was written first.
      .map((e) => (e.type === 'operation' ? e.payload.result : e.payload) as Record<string, unknown> | undefined)
      .filter((r) => r?.outcome === 'error' && r.error === 'upstream.unavailable');
    assert.equal(failed.length, 1, 'one failed result recorded');
    assert.match(String(failed[0]?.servedBy), /^agent-llm#\d+$/);
  });

  test('no agent connected: 503 at once', async () => {
    await agent.stop();
    await waitFor(() => world.gateway.services.agents?.size === 0);
    const res = await fetch(`http://127.0.0.1:${world.gateway.addresses.http?.port}/llm/v1/models`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'upstream.no_agent');
  });
});
