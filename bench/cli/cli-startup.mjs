#!/usr/bin/env node
// Times `gatehouse --help` and `gatehouse policy explain` as a user runs them (a new process each time, through
// bin/gatehouse.js) and prints the median and spread over N runs. Usage: node bench/cli/cli-startup.mjs [N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 9);
// GATEHOUSE_CLI: another entry point to compare (an older checkout, or the compiled build).
const cli = process.env.GATEHOUSE_CLI ?? fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-bench-'));
const config = join(dir, 'gatehouse.yaml');
writeFileSync(
  config,
  `identity: { devIssuer: { enabled: true } }
resources:
  - name: db
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy: [ { groups: [readers], allow: [read] } ]
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: http://127.0.0.1:9
    profile: openai
    policy: [ { groups: [readers], allow: [read] } ]
`,
);

const cases = {
  'node -e 0 (floor)': ['-e', '0'],
  'gatehouse --help': [cli, '--help'],
  'gatehouse policy explain --http': [
    cli,
    'policy',
    'explain',
    '-c',
    config,
    '--resource',
    'llm',
    '--groups',
    'readers',
    '--http',
    'POST /llm/v1/chat/completions',
    '--model',
    'gpt-4o-mini',
  ],
  'gatehouse policy explain --sql': [
    cli,
    'policy',
    'explain',
    '-c',
    config,
    '--resource',
    'db',
    '--groups',
    'readers',
    '--sql',
    'SELECT 1',
  ],
};

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

console.log(
  `runs per case: ${runs}; machine load average: ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const [name, args] of Object.entries(cases)) {
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (result.status !== 0) throw new Error(`${name} exited ${result.status}: ${result.stderr}`);
  }
  console.log(
    `${name.padEnd(34)} median ${median(times).toFixed(0).padStart(5)} ms  (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)})`,
  );
}
rmSync(dir, { recursive: true, force: true });
