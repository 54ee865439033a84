import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { Review } from '../../../src/approvals/review.js';
import { formatReview } from '../../../src/cli/commands/reviews.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { OpenAiStandIn } from '../../../src/standins/openai-stand-in.js';
import { startHttpGateway } from '../../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';

const AUDIENCE = 'https://gatehouse.test';
const UPSTREAM_KEY = 'sk-upstream-cost';

/** maxCostUsd through the real gateway, called with the real openai SDK, against the OpenAI stand-in. */
describe('LLM worst-case cost over maxCostUsd', () => {
  let issuer: LocalIssuer;
  let standIn: OpenAiStandIn;
  let gateway: Gateway;
  let base: string;
  let admin: string;

  const token = (sub: string, groups: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return issuer.sign({ iss: issuer.issuer, aud: AUDIENCE, sub, groups, iat: now, exp: now + 300 });
  };
  const completionsSeen = () => standIn.seen.filter((r) => r.path === '/v1/chat/completions').length;

  before(async () => {
    issuer = await startLocalIssuer();
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY });
    const upstream = await standIn.start();
    const started = await startHttpGateway({
      dirPrefix: 'gh-llm-cost-',
      issuers: [{ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, algorithms: ['ES256'] }],
      admin: true,
      yaml: `
approvals: { httpWait: 200ms, pollInterval: 100ms }
quotas:
  budgets:
    - { name: spend, per: subject, window: 1h, usd: 0.01 }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    profile: openai
    target: ${upstream}
    credential: { value: "Bearer ${UPSTREAM_KEY}" }
    modelPrices:
      house-model: { input: 1, output: 2 }
    policy:
      - groups: [apps]
        allow: [read, write]
        maxCostUsd: 0.05
        approvers: [finance]
`,
    });
    gateway = started.gateway;
    base = `${started.base}/llm/v1`;
    admin = started.admin;
  });

  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
    await issuer?.close();
  });

  const client = async (sub: string) =>
    new OpenAI({ apiKey: await token(sub, ['apps']), baseURL: base, maxRetries: 0 });
  const ask = (openai: OpenAI, model: string, extra: { max_tokens?: number; content?: string } = {}) =>
    openai.chat.completions
      .create({
        model,
        messages: [{ role: 'user', content: extra.content ?? 'Say hello.' }],
        ...(extra.max_tokens === undefined ? {} : { max_tokens: extra.max_tokens }),
      })
      .withResponse();

  it('a cheap request runs at once', async () => {
    const before = completionsSeen();
    const { response, data } = await ask(await client('cheap-app'), 'gpt-4o-mini', { max_tokens: 200 });
    assert.equal(response.status, 200);
    assert.ok(data.choices.length > 0);
    assert.equal(completionsSeen(), before + 1);
  });

  it('a request whose worst case is over the limit is held, and the review shows figure and limit', async () => {
    const before = completionsSeen();
    // No max_tokens: gpt-4o may write 16,384 tokens at $10 per million, $0.16 > $0.05.
    const { response, data } = await ask(await client('costly-app'), 'gpt-4o');
    assert.equal(response.status, 202);
    const { review } = data as unknown as { review: { id: string } };
    assert.equal(completionsSeen(), before, 'the upstream was not called');

    const approver = await token('fin', ['finance']);
    const fetched = await fetch(`${admin}/api/reviews/${review.id}`, {
      headers: { authorization: `Bearer ${approver}` },
    });
    const body = (await fetched.json()) as { review: Review };
    const threshold = body.review.cause.threshold;
    assert.equal(threshold?.limitName, 'maxCostUsd');
    assert.equal(threshold?.limit, 0.05);
    assert.ok((threshold?.value ?? 0) > 0.16 && (threshold?.value ?? 1) < 0.17, String(threshold?.value));
    assert.match(formatReview(body.review), /threshold\s+estimated usd 0\.16\d* over maxCostUsd 0\.05/);
  });

  it('the same model with a small max_tokens is cheap enough; a long prompt is counted', async () => {
    const openai = await client('bounded-app');
    assert.equal((await ask(openai, 'gpt-4o', { max_tokens: 100 })).response.status, 200);
    // About 40,000 prompt tokens at $2.50 per million: $0.10 even with 100 output tokens.
    const long = 'lorem ipsum dolor sit amet '.repeat(8_000);
    assert.equal((await ask(openai, 'gpt-4o', { max_tokens: 100, content: long })).response.status, 202);
  });

  it('a model without a price is held (fail closed); one priced in the config is not', async () => {
    const openai = await client('other-app');
    assert.equal((await ask(openai, 'mystery-model', { max_tokens: 10 })).response.status, 202);
    assert.equal((await ask(openai, 'house-model', { max_tokens: 10 })).response.status, 200);
  });

  it('a budget in money: charged at the model’s prices, a call whose worst case does not fit gets 429', async () => {
    const openai = await client('spender');
    // gpt-4o-mini: 10,000 output tokens at $0.60 per million is $0.006 worst case, within $0.01.
    assert.equal((await ask(openai, 'gpt-4o-mini', { max_tokens: 10_000 })).response.status, 200);
    // Settled to the small reported usage; 20,000 output tokens ($0.012) cannot fit at all.
    await assert.rejects(
      ask(openai, 'gpt-4o-mini', { max_tokens: 20_000 }),
      (error: { status?: number; message?: string }) => {
        assert.equal(error.status, 429);
        assert.match(String(error.message), /spend budget has no room for this call \(usd: /);
        return true;
      },
    );
    assert.equal(
      (await ask(openai, 'gpt-4o-mini', { max_tokens: 10_000 })).response.status,
      200,
      'the first call was settled to its usage',
    );
  });
});
