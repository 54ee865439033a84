import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.js';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import { Quotas } from '../../src/quotas/quotas.js';
import { openStore } from '../../src/store/open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-quotas-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const BIN = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

describe('gatehouse quotas show', () => {
  it('lists each bucket’s usage, in-flight reservations and reset time, as text and JSON', async () => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      [
        'identity: { devIssuer: { enabled: true } }',
        'store: { sqlite: { path: q.db } }',
        'quotas:',
        '  budgets:',
        '    - { name: jobs, per: subject, window: 1h, tokens: 1000, requests: 10 }',
      ].join('\n'),
    );
    const { config, baseDir } = loadConfigFile(file);
    const store = await openStore(config.store, baseDir, { migrations: FEATURE_MIGRATIONS });
    const quotas = new Quotas(config.quotas, store);
    const caller = { issuer: 'dev', subject: 'rag-job', groups: [], claims: {} };
    const first = await quotas.reserve(caller, 'llm', { promptTokens: 20, maxOutputTokens: 100 });
    assert.ok(first.ok);
    if (first.ok) await quotas.settle(first.reservation, { totalTokens: 57 });
    await quotas.reserve(caller, 'llm', { promptTokens: 20, maxOutputTokens: 100 });
    await store.close();

    const text = execFileSync(process.execPath, [BIN, 'quotas', 'show', '-c', file], { encoding: 'utf8' });
    assert.match(text, /^BUDGET\s+BUCKET\s+TOKENS\s+IN FLIGHT\s+REQUESTS\s+RESETS$/m);
    assert.match(text, /^jobs\s+subject:dev rag-job\s+57\/1000\s+120\s+2\/10\s+\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/m);
    const json = JSON.parse(
      execFileSync(process.execPath, [BIN, 'quotas', 'show', '-c', file, '--json'], { encoding: 'utf8' }),
    );
    assert.deepEqual(
      json.map((r: Record<string, unknown>) => [
        r.budget,
        r.usedTokens,
        r.reservedTokens,
        r.usedRequests,
        r.reservedRequests,
      ]),
      [['jobs', 57, 120, 1, 1]],
    );
  });
});
