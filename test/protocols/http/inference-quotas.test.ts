import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type AuditEvent, unfoldResults } from '../../../src/core/audit-event.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { OpenAiStandIn } from '../../../src/standins/openai-stand-in.js';
import { type HttpGateway, startHttpGateway } from '../../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';

const AUDIENCE = 'https://gatehouse.test';
const UPSTREAM_KEY = 'sk-upstream-only-gatehouse-knows';
/** The stand-in answers with 40 characters: 10 completion tokens by its count, within `max_tokens: 10`. */
const REPLY = 'r'.repeat(40);
/** Budgets use a window no test run straddles, so counts never reset mid-test. */
const WINDOW = '3650d';
const TEAM_LIMIT = 100;
const RESTART_LIMIT = 60;

// biome-ignore lint/suspicious/noExplicitAny: audit payloads, read field by field in assertions
type Loose = any;

describe('inference calls through the gateway: usage, budgets and restarts (openai SDK, stand-in model)', () => {
  let local: LocalIssuer;
  let standIn: OpenAiStandIn;
  let started: HttpGateway;
  let gateway: Gateway;
  let base: string;

  const use = (next: HttpGateway) => {
    started = next;
    gateway = next.gateway;
    base = next.base;
  };
  const token = (sub: string, groups: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return local.sign({ iss: local.issuer, aud: AUDIENCE, sub, groups, iat: now, exp: now + 600 });
  };
  const sdk = async (sub: string, groups: string[]) =>
    new OpenAI({ baseURL: `${base}/llm/v1`, apiKey: await token(sub, groups), maxRetries: 0 });
  const events = async (subject: string): Promise<AuditEvent[]> => {
    await gateway.services.recorder.flush();
    // As readers see them: an operation may carry its result (see `unfoldResult`).
    const all = unfoldResults(await gateway.services.store.readEvents(0, 100_000));
    const sessions = new Set(
      all.filter((e) => e.type === 'session.start' && e.payload.subject === subject).map((e) => e.sessionId),
    );
    return all.filter((e) => sessions.has(e.sessionId));
  };
  const pairs = async (subject: string) => {
    const mine = await events(subject);
    const results = new Map(mine.filter((e) => e.type === 'operation.result').map((e) => [e.payload.seq, e.payload]));
    return mine
      .filter((e) => e.type === 'operation')
      .map((e) => ({ operation: e.payload as Loose, result: results.get(e.payload.seq) as Loose }));
  };
  const bucket = async (budget: string) =>
    (await gateway.services.quotas?.usage())?.find((row) => row.budget === budget);

  before(async () => {
    local = await startLocalIssuer();
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY, reply: () => REPLY });
    const standInUrl = await standIn.start();
    use(
      await startHttpGateway({
        dirPrefix: 'gh-quotas-',
        issuers: [
          {
            issuer: local.issuer,
            audience: AUDIENCE,
            jwksUri: local.jwksUri,
            algorithms: ['ES256'],
            maxTokenLifetime: '10m',
          },
        ],
        yaml: `
quotas:
  budgets:
    - { name: team, group: budgeted, window: ${WINDOW}, tokens: ${TEAM_LIMIT} }
    - { name: restart, group: restarted, window: ${WINDOW}, tokens: ${RESTART_LIMIT} }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${standInUrl}
    credential: { value: "Bearer ${UPSTREAM_KEY}" }
    policy:
      - groups: [agents, budgeted, restarted]
        allow: [read]
        models: [gpt-4o-mini, text-embedding-3-small]
`,
      }),
    );
  });

  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
    await local?.close();
  });

  it('records model, ceiling, prompt estimate and the reported usage of a plain completion', async () => {
    const client = await sdk('plain-job', ['agents']);
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'how many tokens is this?' }],
    });
    assert.equal(completion.choices[0]?.message.content, REPLY);
    const reported = completion.usage;
    assert.ok(reported);
    const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'] });
    const [chat, embed] = await pairs('plain-job');
    assert.equal(chat?.operation.model, 'gpt-4o-mini');
    assert.equal(chat?.operation.call, 'chat.completions');
    assert.equal(chat?.operation.maxOutputTokens, 10);
    assert.ok(chat?.operation.promptTokensEstimate > 0);
    assert.equal(chat?.operation.stream, false);
    assert.deepEqual(chat?.result.usage, {
      inputTokens: reported.prompt_tokens,
      outputTokens: reported.completion_tokens,
      totalTokens: reported.total_tokens,
    });
    // No budget names this caller's groups: nothing was reserved or charged.
    assert.equal(chat?.result.reservedTokens, undefined);
    assert.equal(embed?.operation.call, 'embeddings');
    assert.equal(embed?.result.usage.totalTokens, embedding.usage.total_tokens);
  });

  it('streams with usage recorded, and a caller who did not ask for usage never sees a usage chunk', async () => {
    const client = await sdk('stream-job', ['agents']);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      stream: true,
      messages: [{ role: 'user', content: 'stream it' }],
    });
    let text = '';
    for await (const chunk of stream) {
      assert.equal((chunk as Loose).usage, undefined, 'no usage field on any chunk');
      assert.ok(chunk.choices.length > 0, 'no usage-only chunk');
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, REPLY);
    const forwarded = JSON.parse(standIn.seen.at(-1)?.body ?? '{}');
    assert.deepEqual(forwarded.stream_options, { include_usage: true }, 'the gateway asked the upstream for usage');
    // The raw bytes too: no `usage` anywhere, and the stream still ends with [DONE].
    const raw = await fetch(`${base}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('stream-job', ['agents'])}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'raw' }] }),
    });
    const body = await raw.text();
    assert.ok(!body.includes('usage'), body);
    assert.match(body, /data: \[DONE\]\n\n$/);
    const records = await pairs('stream-job');
    assert.equal(records.length, 2);
    for (const { operation, result } of records) {
      assert.equal(operation.stream, true);
      assert.equal(result.status, 200);
      assert.equal(result.usage.outputTokens, 10);
      assert.ok(result.usage.inputTokens > 0);
    }
  });

  it('passes usage through to a caller who asked for it, byte for byte', async () => {
    const client = await sdk('usage-asker', ['agents']);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'with usage please' }],
    });
    let usage: Loose;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.equal(usage?.completion_tokens, 10);
    const [record] = await pairs('usage-asker');
    assert.equal(record?.result.usage.totalTokens, usage.total_tokens);
  });

  it('enforces a token budget across 20 concurrent calls without overspending', async () => {
    const client = await sdk('budget-job', ['budgeted']);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.chat.completions
          .create({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: `call ${i}` }] })
          .then(
            (completion) => ({ ok: true as const, total: completion.usage?.total_tokens ?? Number.NaN }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
      ),
    );
    const served = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    const spent = served.reduce((sum, o) => sum + o.total, 0);
    assert.ok(served.length >= 1 && refused.length >= 1, `${served.length} served, ${refused.length} refused`);
    assert.ok(spent <= TEAM_LIMIT, `the upstream reported ${spent} tokens against a limit of ${TEAM_LIMIT}`);
    for (const { error } of refused) {
      assert.ok(error instanceof OpenAI.APIError && error.status === 429, String(error));
      const detail = (error as Loose).error;
      assert.equal(detail.code, 'quota.exceeded');
      assert.equal(detail.limit, TEAM_LIMIT);
      assert.equal(typeof detail.used, 'number');
      assert.ok(detail.used + detail.reserved + detail.requested > TEAM_LIMIT);
      assert.ok(Date.parse(detail.reset_at) > Date.now());
    }
    const row = await bucket('team');
    assert.equal(row?.usedTokens, spent, 'the budget holds exactly what the upstream reported');
    assert.equal(row?.reservedTokens, 0, 'every reservation was settled');
    assert.equal(row?.usedRequests, served.length);
    const records = await pairs('budget-job');
    assert.equal(
      records.filter((r) => r.result.status === 429 && r.result.error === 'quota.exceeded').length,
      20 - served.length,
    );
    const charged = records.filter((r) => r.result.status === 200);
    assert.equal(
      charged.reduce((sum, r) => sum + r.result.chargedTokens, 0),
      spent,
    );
    assert.ok(charged.every((r) => r.result.reservedTokens >= r.result.chargedTokens));
    // A call with no ceiling reserves the default maximum output: refused at once, with the standard headers.
    const response = await fetch(`${base}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token('budget-job', ['budgeted'])}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'unbounded' }] }),
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get('retry-after')) >= 1);
    const refusal = ((await response.json()) as Loose).error;
    assert.equal(refusal.budget, 'team');
    assert.ok(refusal.requested > 4_096);
    assert.match(refusal.message, /team budget has no room/);
  });

  it('keeps counts across a gateway restart on the same SQLite file', async () => {
    const call = async () =>
      (await sdk('restart-job', ['restarted'])).chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'again' }],
      });
    let spent = 0;
    for (let i = 0; i < 3; i++) spent += (await call()).usage?.total_tokens ?? Number.NaN;
    assert.equal((await bucket('restart'))?.usedTokens, spent);
    use(await started.restart());
    assert.equal((await bucket('restart'))?.usedTokens, spent, 'the new gateway reads the stored counts');
    // One more call fits what is left; the next one would not, because the count survived the restart.
    spent += (await call()).usage?.total_tokens ?? Number.NaN;
    assert.equal((await bucket('restart'))?.usedTokens, spent);
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError && error.status === 429);
      assert.equal((error as Loose).error.used, spent);
      return true;
    });
    assert.ok(spent <= RESTART_LIMIT);
  });
});
