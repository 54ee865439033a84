import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Review } from '../../src/approvals/review.js';
import { formatReview } from '../../src/cli/commands/reviews.js';
import { temporaryDirectory } from '../support/temp-dir.js';
import { type ReviewGateway, startReviewGateway } from './review-gateway.js';

/** A review a threshold asked for shows the figure and the limit: in the API, the CLI, the page and both webhooks. */
describe('reviews created by a threshold', () => {
  let g: ReviewGateway;
  before(async () => {
    g = await startReviewGateway();
  });
  after(async () => {
    await g?.close();
  });

  it('show figure and limit to the approver everywhere', async () => {
    const who = g.identity('bulk-job', ['bulk-writers']);
    const { id } = await g.hold(who, 'UPDATE documents SET stale = true', { estimates: { rows: 50_000 } });
    const review = (await g.gateway.services.approvals.get(id)) as Review;
    assert.deepEqual(review.cause.threshold, {
      figure: 'rows',
      limitName: 'maxRows',
      value: 50_000,
      limit: 1000,
      over: 'review',
    });
    assert.equal(review.cause.reason, 'threshold-exceeded');
    assert.match(formatReview(review), /threshold {3}estimated rows 50000 over maxRows 1000/);

    // Webhooks: the signed JSON carries the review with its cause; the Slack text says why.
    for (let i = 0; i < 100 && (g.json.received.length === 0 || g.slack.received.length === 0); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const signed = g.json.received.map((r) => JSON.parse(r.body)).find((b) => b.review?.id === id);
    assert.equal(signed?.review.cause.threshold.limitName, 'maxRows');
    const chat = g.slack.received.map((r) => JSON.parse(r.body).text as string).find((t) => t.includes(id));
    assert.match(chat ?? '', /Why: estimated rows 50000 over maxRows 1000\./);

    // A figure that could not be bounded is Infinity: stored (JSON null) and read back as Infinity, shown unbounded.
    const { id: unboundedId } = await g.hold(who, 'UPDATE documents SET stale = false', {
      estimates: { rows: Number.POSITIVE_INFINITY },
    });
    const unbounded = (await g.gateway.services.approvals.get(unboundedId)) as Review;
    assert.equal(unbounded.cause.threshold?.value, Number.POSITIVE_INFINITY);
    assert.equal(unbounded.cause.threshold?.limit, 1000);
    assert.match(formatReview(unbounded), /threshold {3}estimated rows unbounded over maxRows 1000/);
    for (let i = 0; i < 100 && !g.slack.received.some((r) => r.body.includes(unboundedId)); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const unboundedChat = g.slack.received
      .map((r) => JSON.parse(r.body).text as string)
      .find((t) => t.includes(unboundedId));
    assert.match(unboundedChat ?? '', /Why: estimated rows unbounded over maxRows 1000\./);

    // The page, in a real browser.
    const browser = await chromium.launchPersistentContext(temporaryDirectory('gh-chromium-'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${g.admin}/ui/reviews`);
      await page.fill('#token', await g.token('alice', ['data-owners']));
      await page.click('#use-token');
      const row = page.locator(`tr[data-review-id="${id}"]`);
      await row.waitFor();
      assert.match((await row.textContent()) ?? '', /rows 50000 over maxRows 1000/);
      const unboundedRow = page.locator(`tr[data-review-id="${unboundedId}"]`);
      assert.match((await unboundedRow.textContent()) ?? '', /rows unbounded over maxRows 1000/);
    } finally {
      await browser.close();
    }
  });

  it('under the limit the same rule allows at once: no review', () => {
    const decision = g.gateway.services.policy.decide(
      {
        protocol: 'postgres',
        resource: 'vectors',
        kind: 'write',
        tags: [],
        action: 'UPDATE',
        text: 'UPDATE documents SET stale = true WHERE id < 10',
        estimates: { rows: 9 },
      },
      { identity: g.identity('bulk-job', ['bulk-writers']) },
    );
    assert.equal(decision.verdict, 'allow');
  });
});
