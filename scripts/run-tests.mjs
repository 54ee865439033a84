#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx. Node 20's --test takes no glob, so the list is built here.
// Usage: npm test [-- path-substring ...] to run only the files whose path contains one of the substrings.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

const files = collect(join(root, 'test'))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// What the tests need beyond npm (Chromium, psycopg, PostgreSQL's clients) comes from Debian's packages: installed
// when missing, or named, so a fresh machine does not fail on a missing program.
const deps = spawnSync('bash', [join(root, 'scripts/install-test-deps.sh')], { stdio: 'inherit' });
if (deps.status !== 0) console.error('continuing: the tests that need those packages will fail');

// Tests import the sources through tsx, but the ones that run the real CLI (bin/gatehouse.js) run dist/, as users do:
// built first so it is never older than src/ (about a second).
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('the build failed: the tests that run bin/gatehouse.js would run an old dist/');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, GATEHOUSE_TEST: '1' } },
);
process.exit(result.status ?? 1);
