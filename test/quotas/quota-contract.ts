import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/core/identity.js';
import { type QuotasConfig, quotasSchema } from '../../src/quotas/config.js';
import { Quotas, quotaRefusalBody, type Reservation } from '../../src/quotas/quotas.js';
import type { Store } from '../../src/store/store.js';

/** Opens a migrated store on one database; calling it again opens another connection to the same database. */
export type StoreOpener = () => Promise<Store>;

const HOUR = 3_600_000;

function identity(subject: string, groups: string[] = ['agents'], claims: Record<string, unknown> = {}): Identity {
  return { issuer: 'https://issuer.test', subject, groups, tokenId: subject, expiresAt: Date.now() + HOUR, claims };
}

function config(input: unknown): QuotasConfig {
  return quotasSchema.parse(input);
}

class ManualClock {
  constructor(public at: number) {}
  now(): number {
    return this.at;
  }
}

/** The same checks on every store dialect: concurrency, atomicity over several budgets, refusals, settlement, restarts. */
export function quotaContract(name: string, newDatabase: () => Promise<StoreOpener>): void {
  describe(`quotas on ${name}`, () => {
    it('20 concurrent reservations from two gateways never overspend; settlement frees the difference', async () => {
      const open = await newDatabase();
      const [a, b] = [await open(), await open()];
      try {
        const budget = config({ budgets: [{ name: 'jobs', per: 'subject', window: '1h', tokens: 1_000 }] });
        const gateways = [new Quotas(budget, a), new Quotas(budget, b)];
        const caller = identity('rag-job');
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (gateways[i % 2] as Quotas).reserve(caller, 'llm', { promptTokens: 40, maxOutputTokens: 60 }),
          ),
        );
        const granted = results.flatMap((r) => (r.ok ? [r.reservation] : []));
        assert.equal(granted.length, 10, 'exactly limit / reservation calls fit');
        for (const refused of results.filter((r) => !r.ok)) {
          assert.equal(refused.ok, false);
          if (!refused.ok) assert.ok(refused.refusal.used + refused.refusal.reserved + 100 > 1_000);
        }
        let [row] = await gateways[0]!.usage();
        assert.deepEqual([row?.reservedTokens, row?.usedTokens, row?.reservedRequests], [1_000, 0, 10]);
        await Promise.all(granted.map((r, i) => gateways[i % 2]!.settle(r, { totalTokens: 60 })));
        [row] = await gateways[1]!.usage();
        assert.deepEqual(
          [row?.reservedTokens, row?.usedTokens, row?.usedRequests, row?.reservedRequests],
          [0, 600, 10, 0],
        );
        const more = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            gateways[i % 2]!.reserve(caller, 'llm', { promptTokens: 100, maxOutputTokens: 0 }),
          ),
        );
        assert.equal(more.filter((r) => r.ok).length, 4, '400 tokens left fit four more');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('reserves in every budget or in none, and a refusal names the budget, limit, usage and reset time', async () => {
      const open = await newDatabase();
      const store = await open();
      try {
        const clock = new ManualClock(Date.UTC(2030, 0, 1, 10, 15));
        const quotas = new Quotas(
          config({
            budgets: [
              { name: 'a-team', group: 'agents', window: '1h', tokens: 100 },
              { name: 'b-jobs', per: 'subject', window: '1d', tokens: 10_000, requests: 50 },
            ],
          }),
          store,
          clock,
        );
        // Exactly filling the first budget must still reserve in the second (one statement, evaluated once).
        const first = await quotas.reserve(identity('job-1'), 'llm', { promptTokens: 30, maxOutputTokens: 70 });
        assert.equal(first.ok, true);
        const second = await quotas.reserve(identity('job-1'), 'llm', { promptTokens: 1, maxOutputTokens: 1 });
        assert.equal(second.ok, false);
        if (second.ok) return;
        assert.deepEqual(second.refusal, {
          budget: 'a-team',
          unit: 'tokens',
          limit: 100,
          used: 0,
          reserved: 100,
          requested: 2,
          resetAt: Date.UTC(2030, 0, 1, 11),
        });
        const rows = await quotas.usage();
        assert.deepEqual(
          rows.map((r) => [r.budget, r.reservedTokens, r.reservedRequests]),
          [
            ['a-team', 100, 1],
            ['b-jobs', 100, 1],
          ],
        );
        const rendered = quotaRefusalBody(second.refusal, clock.now());
        assert.equal(rendered.retryAfterSeconds, 45 * 60);
        assert.match(JSON.stringify(rendered.body), /"code":"quota.exceeded".*"reset_at":"2030-01-01T11:00:00.000Z"/);
        // The next window starts empty.
        clock.at = Date.UTC(2030, 0, 1, 11, 0, 1);
        assert.equal(
          (await quotas.reserve(identity('job-1'), 'llm', { promptTokens: 50, maxOutputTokens: 50 })).ok,
          true,
        );
      } finally {
        await store.close();
      }
    });

    it('counts requests, releases failed calls, charges unknown usage whole, and keeps counts across a restart', async () => {
      const open = await newDatabase();
      let store = await open();
      const budget = config({
        defaultMaxOutputTokens: 500,
        budgets: [{ name: 'repos', claim: 'repository', window: '1h', requests: 3, tokens: 100_000 }],
      });
      const ci = identity('ci', [], { repository: 'org/app' });
      const other = identity('ci-2', [], { repository: 'org/other' });
      try {
        let quotas = new Quotas(budget, store);
        const held: Reservation[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await quotas.reserve(ci, 'llm', { promptTokens: 10 });
          assert.ok(r.ok);
          if (r.ok) held.push(r.reservation);
        }
        const fourth = await quotas.reserve(ci, 'llm', { promptTokens: 10 });
        assert.equal(fourth.ok, false);
        if (!fourth.ok)
          assert.deepEqual([fourth.refusal.unit, fourth.refusal.limit, fourth.refusal.reserved], ['requests', 3, 3]);
        assert.equal(
          (await quotas.reserve(other, 'llm', { promptTokens: 10 })).ok,
          true,
          'another repository has its own bucket',
        );
        await quotas.settle(held[0]!, 'failed');
        await quotas.settle(held[1]!, 'unknown');
        await quotas.settle(held[2]!, { totalTokens: 42 });
        await quotas.settle(held[2]!, { totalTokens: 42 }); // settling twice changes nothing
        await store.close();
        store = await open();
        quotas = new Quotas(budget, store);
        const row = (await quotas.usage()).find((r) => r.bucket === 'claim:org/app');
        assert.deepEqual(
          [row?.usedTokens, row?.reservedTokens, row?.usedRequests, row?.reservedRequests],
          [510 + 42, 0, 2, 0],
        );
        assert.equal(
          (await quotas.reserve(ci, 'llm', { promptTokens: 10 })).ok,
          true,
          'the released request is free again',
        );
        assert.equal((await quotas.reserve(ci, 'llm', { promptTokens: 10 })).ok, false);
      } finally {
        await store.close();
      }
    });
  });
}
