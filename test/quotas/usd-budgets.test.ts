import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Identity } from '../../src/core/identity.js';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import { quotasSchema } from '../../src/quotas/config.js';
import { Quotas, quotaRefusalBody } from '../../src/quotas/quotas.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { temporaryDirectory } from '../support/temp-dir.js';

const dir = temporaryDirectory('gatehouse-usd-budgets-');
const stores: SqliteStore[] = [];
after(async () => {
  for (const store of stores) await store.close?.();
});
let n = 0;
async function openStore(): Promise<SqliteStore> {
  const store = await SqliteStore.open(join(dir, `usd-${++n}.db`));
  await store.migrate(FEATURE_MIGRATIONS);
  stores.push(store);
  return store;
}

const caller: Identity = {
  issuer: 'https://issuer.test',
  subject: 'rag-job',
  groups: ['agents'],
  tokenId: 't',
  expiresAt: Date.now() + 3_600_000,
  claims: {},
};
/** $2.50 / $10 per million tokens. */
const GPT_4O = { input: 2.5, output: 10 };

describe('budgets in money (usd)', () => {
  it('reserves the worst case in micro-dollars, refuses past the limit, settles to reported usage', async () => {
    const config = quotasSchema.parse({
      budgets: [
        { name: 'spend', per: 'subject', window: '1h', usd: 0.05 },
        { name: 'tokens', per: 'subject', window: '1h', tokens: 1_000_000 },
      ],
    });
    const quotas = new Quotas(config, await openStore());
    // 1,000 prompt + 2,000 output tokens: $0.0025 + $0.02 = $0.0225 worst case.
    const first = await quotas.reserve(caller, 'llm', { promptTokens: 1_000, maxOutputTokens: 2_000, price: GPT_4O });
    assert.ok(first.ok);
    const second = await quotas.reserve(caller, 'llm', { promptTokens: 1_000, maxOutputTokens: 2_000, price: GPT_4O });
    assert.ok(second.ok);
    const third = await quotas.reserve(caller, 'llm', { promptTokens: 1_000, maxOutputTokens: 2_000, price: GPT_4O });
    assert.equal(third.ok, false, '$0.0675 would be over $0.05');
    if (!third.ok) {
      assert.equal(third.refusal.unit, 'usd');
      assert.equal(third.refusal.budget, 'spend');
      assert.deepEqual(
        [third.refusal.limit, third.refusal.reserved, third.refusal.requested],
        [50_000, 45_000, 22_500],
      );
    }
    // The token budget's hold for the refused call was released.
    const tokensRow = (await quotas.usage()).find((r) => r.budget === 'tokens');
    assert.equal(tokensRow?.reservedTokens, 6_000);
    // The first call used 1,000 in + 100 out: $0.0035; its hold of $0.0225 is replaced by that.
    if (first.ok) await quotas.settle(first.reservation, { totalTokens: 1_100, inputTokens: 1_000, outputTokens: 100 });
    const spend = (await quotas.usage()).find((r) => r.budget === 'spend');
    assert.deepEqual([spend?.usedTokens, spend?.reservedTokens], [3_500, 22_500]);
    // Room again: 3,500 + 22,500 + 22,500 <= 50,000.
    assert.ok((await quotas.reserve(caller, 'llm', { promptTokens: 1_000, maxOutputTokens: 2_000, price: GPT_4O })).ok);
  });

  it('a call whose model has no price is refused by a money budget (fail closed), and the 429 says why', async () => {
    const config = quotasSchema.parse({ budgets: [{ name: 'spend', group: 'agents', window: '1d', usd: 10 }] });
    const quotas = new Quotas(config, await openStore());
    const result = await quotas.reserve(caller, 'llm', { promptTokens: 10, maxOutputTokens: 10 });
    assert.equal(result.ok, false);
    if (!result.ok) {
      const { body } = quotaRefusalBody(result.refusal, Date.now());
      assert.match(JSON.stringify(body), /the model has no price/);
    }
  });

  it('the schema refuses tokens and usd in one budget', () => {
    assert.throws(() =>
      quotasSchema.parse({ budgets: [{ name: 'x', per: 'subject', window: '1h', tokens: 5, usd: 1 }] }),
    );
    assert.doesNotThrow(() => quotasSchema.parse({ budgets: [{ name: 'x', per: 'subject', window: '1h', usd: 1 }] }));
  });
});
