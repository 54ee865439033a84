import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countPromptTokens, worstCaseCost } from '../../src/protocols/http/providers/llm-cost.js';
import { ModelPriceTable } from '../../src/protocols/http/providers/model-prices.js';

describe('LLM worst-case cost', () => {
  const prices = new ModelPriceTable({ 'gpt-4o': { input: 5, output: 20 }, 'my-*': { input: 1, output: 1 } });

  it('counts prompt tokens with the model family’s real encoding, plus a few per string', () => {
    // "hello world" is 2 tokens in both o200k_base and cl100k_base; each string adds 4 for the chat framing.
    assert.equal(countPromptTokens('gpt-4o', { messages: [{ role: 'user', content: 'hello world' }] }), 2 + 1 + 4 + 4);
    assert.equal(countPromptTokens('gpt-4o', { model: 'gpt-4o', max_tokens: 5, messages: [] }), 0, 'no prompt text');
    const long = 'The quick brown fox jumps over the lazy dog. '.repeat(1_000);
    // No time budget here: on a busy machine the default one could cut exact counting short (an upper bound still).
    const exact = Number.POSITIVE_INFINITY;
    const tokens = countPromptTokens('gpt-4o', { messages: [{ role: 'user', content: long }] }, exact);
    assert.ok(tokens > 9_000 && tokens < 11_000, String(tokens));
    // Other families' tokenizers are not public: counted with o200k_base and a 25% margin.
    const claude = countPromptTokens(
      'claude-sonnet-4-20250514',
      { messages: [{ role: 'user', content: long }] },
      exact,
    );
    assert.ok(claude >= tokens * 1.25 - 1, `${claude} vs ${tokens}`);
  });

  it('uses max_tokens when set, the model’s maximum output when not', () => {
    const body = { messages: [{ role: 'user', content: 'hi' }] };
    const bounded = worstCaseCost(prices, 'gpt-4o-mini-2024-07-18', body, 1_000);
    assert.equal(bounded.outputTokens, 1_000);
    assert.ok(Math.abs(bounded.usd - (bounded.promptTokens * 0.15 + 1_000 * 0.6) / 1e6) < 1e-12);
    const open = worstCaseCost(prices, 'gpt-4o-mini-2024-07-18', body, undefined);
    assert.equal(open.outputTokens, 16_384);
  });

  it('the longest matching pattern wins, and the resource’s prices override the defaults', () => {
    assert.equal(prices.priceOf('gpt-4o')?.input, 5, 'override of the exact name');
    assert.equal(prices.priceOf('gpt-4o-2024-08-06')?.input, 2.5, 'default gpt-4o*');
    assert.equal(prices.priceOf('gpt-4o-mini')?.input, 0.15, 'gpt-4o-mini* beats gpt-4o*');
    assert.equal(prices.priceOf('my-model')?.output, 1);
  });

  it('an unpriced model, or one without any output ceiling, is unbounded (fail closed)', () => {
    const unknown = worstCaseCost(prices, 'mystery', { prompt: 'x' }, 10);
    assert.equal(unknown.usd, Number.POSITIVE_INFINITY);
    assert.match(unknown.unbounded ?? '', /no price for model mystery/);
    const noCeiling = worstCaseCost(prices, 'my-model', { prompt: 'x' }, undefined);
    assert.equal(noCeiling.usd, Number.POSITIVE_INFINITY);
    assert.equal(worstCaseCost(prices, 'my-model', { prompt: 'x' }, 10).usd < 0.001, true);
  });

  it('pathological prompts cannot hold the event loop: counting stops early and stays an upper bound', () => {
    // BPE is quadratic in unbroken runs: 5 MB of one letter, or of CJK, must not take seconds.
    for (const content of ['a'.repeat(5_000_000), '漢字テキスト'.repeat(200_000), '\n'.repeat(1_000_000)]) {
      const tokens = countPromptTokens('gpt-4o', { messages: [{ role: 'user', content }] });
      // Never fewer tokens than a real count could give (a token is at least one byte, so bytes bound it).
      assert.ok(tokens >= Math.ceil(content.length / 16), String(tokens));
      assert.ok(tokens <= Buffer.byteLength(content) + 8, String(tokens));
      // Once the budget is spent the rest counts by bytes: with none at all, the whole text does.
      const bytes = countPromptTokens('gpt-4o', { messages: [{ role: 'user', content }] }, 0);
      assert.equal(bytes, 4 + 4 + Buffer.byteLength(content) + 4, '"user" and the content by bytes, 4 per string');
    }
  });
});
