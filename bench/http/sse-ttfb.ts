// Time to first byte of a streamed chat completion, over sequential keep-alive requests.
// Usage: SSE_AUTHORIZATION='Bearer ...' node --import tsx bench/http/sse-ttfb.ts URL REQUESTS WARMUP
// Prints JSON: p50/p99/mean TTFB (request written -> first body byte) and p50 of the whole stream, in ms.
import { Agent, request } from 'node:http';

const [url = '', requests = '2000', warmup = '200'] = process.argv.slice(2);
const authorization = process.env.SSE_AUTHORIZATION ?? '';
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content: 'Stream a short answer, please.' }],
});

interface Timing {
  readonly ttfbMs: number;
  readonly totalMs: number;
}

function once(): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let first: bigint | undefined;
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        res.on('data', () => {
          first ??= process.hrtime.bigint();
        });
        res.on('end', () => {
          const end = process.hrtime.bigint();
          resolve({ ttfbMs: Number((first ?? end) - started) / 1e6, totalMs: Number(end - started) / 1e6 });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

for (let i = 0; i < Number(warmup); i++) await once();
const timings: Timing[] = [];
for (let i = 0; i < Number(requests); i++) timings.push(await once());
const ttfb = timings.map((t) => t.ttfbMs).sort((a, b) => a - b);
const total = timings.map((t) => t.totalMs).sort((a, b) => a - b);
const r = (n: number) => Math.round(n * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    requests: timings.length,
    ttfbP50Ms: r(percentile(ttfb, 50)),
    ttfbP99Ms: r(percentile(ttfb, 99)),
    ttfbMeanMs: r(ttfb.reduce((s, n) => s + n, 0) / ttfb.length),
    totalP50Ms: r(percentile(total, 50)),
  })}\n`,
);
agent.destroy();
