import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from '../../scripts/config-reference.js';
import { renderIncludes } from '../../scripts/doc-includes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');

describe('generated documentation is current (npm run docs:config)', () => {
  test('docs/configuration.md matches the schema', () => {
    assert.equal(read('docs/configuration.md'), renderConfigReference(), 'stale: run npm run docs:config');
  });

  test('every key of the configuration reference has a type and a description', () => {
    const rows = renderConfigReference()
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    assert.ok(rows.length > 150, `only ${rows.length} rows`);
    const undocumented = rows.filter((row) => / \|\s*\|$/.test(row)).map((row) => row.split('|')[1]?.trim());
    assert.deepEqual(undocumented, []);
    for (const key of ['identity.issuers[].caFile', 'approvals.timeout', 'quotas.budgets[].window', 'masking.tokenKey'])
      assert.ok(
        rows.some((row) => row.startsWith(`| \`${key}\``)),
        key,
      );
  });

  test('docs/identity.md shows exactly the recipe files the recipe test loads', () => {
    const doc = read('docs/identity.md');
    assert.equal(doc, renderIncludes(doc, root), 'stale: run npm run docs:config');
    for (const name of ['github-actions', 'gitlab-ci', 'kubernetes', 'keycloak', 'generic-oidc'])
      assert.ok(doc.includes(`<!-- include examples/identity/${name}.yaml -->`), name);
  });
});
