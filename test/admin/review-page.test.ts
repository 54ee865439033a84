import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import { temporaryDirectory } from '../support/temp-dir.js';
import { type ReviewGateway, startReviewGateway } from './review-gateway.js';

/** Debian's Chromium, launched the way CI can: no sandbox (root in a container), nothing fetched from the network. */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

describe('reviews web page in a real browser', () => {
  let g: ReviewGateway;
  let browser: BrowserContext;
  before(async () => {
    g = await startReviewGateway();
    browser = await chromium.launchPersistentContext(temporaryDirectory('gh-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
    });
  });
  after(async () => {
    await browser?.close();
    await g?.close();
  });

  it('an approver enters a token and approves a pending review; the held caller is released', async () => {
    const { id, outcome } = await g.hold(g.identity('indexer-job', ['indexers']), 'DELETE FROM documents');
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(`${g.admin}/ui/reviews`);
    await page.locator('#status').filter({ hasText: 'Enter your token' }).waitFor();
    await page.fill('#token', await g.token('alice', ['data-owners']));
    await page.click('#use-token');
    const row = page.locator(`tr[data-review-id="${id}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /DELETE FROM documents/);
    assert.match((await row.textContent()) ?? '', /indexer-job/);
    const screenshot = join(temporaryDirectory('gh-shot-'), 'reviews.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    process.stdout.write(`# screenshot: ${screenshot}\n`);
    await row.locator('input').fill('looks right');
    await row.locator('button.approve').click();
    await page
      .locator('#status')
      .filter({ hasText: `Review ${id} is now approved.` })
      .waitFor();
    const result = await outcome;
    assert.equal(result.status, 'approved');
    assert.equal(result.review.decisions[0]?.subject, 'alice');
    assert.equal(result.review.decisions[0]?.reason, 'looks right');
    // The approved review leaves the pending list. The page reloads it after the status line, so this waits for the
    // row to go, and fails (the locator's timeout) if it stays.
    await row.waitFor({ state: 'detached' });
    assert.deepEqual(violations, [], 'the page runs under its Content-Security-Policy without violations');
  });

  it('shows the API error for a token that may not decide', async () => {
    const { id } = await g.hold(g.identity('indexer-job', ['indexers']), 'DELETE FROM chunks');
    const page = await browser.newPage();
    await page.goto(`${g.admin}/ui/reviews`);
    // The requester's own token sees its review but cannot approve it.
    await page.fill('#token', await g.token('indexer-job', ['indexers']));
    await page.click('#use-token');
    const row = page.locator(`tr[data-review-id="${id}"]`);
    await row.waitFor();
    await row.locator('button.approve').click();
    await page.locator('#status.error').filter({ hasText: 'requested by you' }).waitFor();
    assert.equal((await g.gateway.services.approvals.get(id))?.state, 'pending');
  });
});
