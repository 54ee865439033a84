// `npm run docs:config`: writes docs/configuration.md from the schema and refreshes the example files included in
// docs/identity.md. `--check` writes nothing and exits 1 when either is stale (CI runs it through a test).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from './config-reference.js';
import { renderIncludes } from './doc-includes.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const outputs: [string, string][] = [
  ['docs/configuration.md', renderConfigReference()],
  ['docs/identity.md', renderIncludes(readFileSync(`${root}docs/identity.md`, 'utf8'), root)],
];
let stale = false;
for (const [file, text] of outputs) {
  const current = readFileSync(`${root}${file}`, 'utf8');
  if (current === text) continue;
  stale = true;
  if (check) console.error(`${file} is stale: run npm run docs:config`);
  else writeFileSync(`${root}${file}`, text);
}
if (check && stale) process.exit(1);
