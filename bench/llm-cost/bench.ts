/**
 * Cost of the worst-case price estimate (maxCostUsd) per inference request: prompt token counting with js-tiktoken
 * for ordinary and pathological prompts (long unbroken runs, where BPE is quadratic, and multi-byte scripts), with the
 * slicing and the time budget of llm-cost.ts, and the figure it gives against the exact count where one is feasible.
 * Run: node --import tsx bench/llm-cost/bench.ts   (writes bench/results/llm-cost.md; BENCH_LLM_REPEAT=3 by default)
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { countPromptTokens, warmTokenizers } from '../../src/protocols/http/providers/llm-cost.js';
import { machineInfo } from '../lib/machine.js';

const REPEAT = Number(process.env.BENCH_LLM_REPEAT ?? 3);

const PROMPTS: readonly (readonly [string, string])[] = [
  ['short chat (12 B)', 'Say hello.'],
  ['prose 4 KB', 'The quick brown fox jumps over the lazy dog, 12345 times! '.repeat(70)],
  ['prose 60 KB', 'The quick brown fox jumps over the lazy dog, 12345 times! '.repeat(1_000)],
  ['prose 240 KB', 'The quick brown fox jumps over the lazy dog, 12345 times! '.repeat(4_000)],
  ['one letter 200 KB', 'a'.repeat(200_000)],
  ['one letter 5 MB', 'a'.repeat(5_000_000)],
  ['CJK 540 KB', '漢字テキスト'.repeat(30_000)],
  ['newlines 1 MB', '\n'.repeat(1_000_000)],
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const started = performance.now();
warmTokenizers();
const warm = performance.now() - started;
const lines = [
  '# LLM worst-case cost: prompt token counting',
  '',
  (() => {
    const m = machineInfo();
    return `${m.date}, ${m.nproc} cores (${m.cpuModel}), Node ${m.node}, load before ${m.loadBefore.join(' ')} (shared machine).`;
  })(),
  '',
  `Building both encoders (o200k_base, cl100k_base) at start-up: ${warm.toFixed(0)} ms.`,
  '',
  '| prompt | counted tokens | median ms (of ' + REPEAT + ') |',
  '| --- | ---: | ---: |',
];
for (const [name, content] of PROMPTS) {
  const times: number[] = [];
  let tokens = 0;
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    tokens = countPromptTokens('gpt-4o', { messages: [{ role: 'user', content }] });
    times.push(performance.now() - t);
  }
  lines.push(`| ${name} | ${tokens} | ${median(times).toFixed(1)} |`);
}
lines.push(
  '',
  'Counting stops after 100 ms on the event loop and counts the rest as one token per byte (an upper bound), so',
  'the long and pathological prompts cost about that and are over-counted. Before the slicing (one `encode` per',
  'string), 200 KB of one letter did not finish within a minute (measured while writing llm-cost.ts).',
);
writeFileSync(new URL('../results/llm-cost.md', import.meta.url), `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
