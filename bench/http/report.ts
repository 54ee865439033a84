import { type ProfileSummary, profileMarkdown } from '../lib/cpuprofile.js';
import type { MachineInfo } from '../lib/machine.js';
import { FOREIGN_CPU_LIMIT, type Measured } from '../lib/measure.js';
import { machineMarkdown, median, ratio, round, table } from '../lib/report.js';
import type { WrkResult } from './wrk.js';

export type TargetName = 'direct' | 'node-relay' | 'nginx' | 'gatehouse';

/** In the order they are measured and shown. */
export const HTTP_TARGETS: readonly TargetName[] = ['direct', 'node-relay', 'nginx', 'gatehouse'];

export interface SseResult {
  readonly requests: number;
  readonly ttfbP50Ms: number;
  readonly ttfbP99Ms: number;
  readonly ttfbMeanMs: number;
  readonly totalP50Ms: number;
}

export interface HttpRun extends WrkResult {
  /** CPU time of the server under test (the origin when direct, else the proxy) per request, in microseconds. */
  readonly serverCpuUsPerRequest: number;
}

export interface TargetSummary {
  /** Medians over the rounds. */
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRequest: number;
  readonly perRound: readonly {
    rps: number;
    p50Ms: number;
    p99Ms: number;
    cpuUsPerRequest: number;
    foreignCpu: number;
    load: number;
  }[];
}

export interface HttpResults {
  readonly machine: MachineInfo;
  readonly loadAfter: readonly number[];
  readonly versions: Record<string, string>;
  readonly settings: Record<string, string | number>;
  /** Per connection count; results from before the Node relay was measured lack it. */
  readonly throughput: Record<
    string,
    Partial<Record<TargetName, TargetSummary>> & Record<'direct' | 'nginx' | 'gatehouse', TargetSummary>
  >;
  readonly sse: Record<'direct' | 'gatehouse', Measured<SseResult>[]>;
  readonly profile: { readonly requestsPerSecond: number; readonly summary: ProfileSummary };
  readonly commands: readonly string[];
}

export function summariseRuns(runs: Record<TargetName, Measured<HttpRun>[]>): Record<TargetName, TargetSummary> {
  const summarise = (list: Measured<HttpRun>[]): TargetSummary => ({
    requestsPerSecond: Math.round(median(list.map((m) => m.result.requestsPerSecond))),
    p50Ms: round(median(list.map((m) => m.result.p50Ms)), 3),
    p99Ms: round(median(list.map((m) => m.result.p99Ms)), 3),
    cpuUsPerRequest: round(median(list.map((m) => m.result.serverCpuUsPerRequest)), 1),
    perRound: list.map((m) => ({
      rps: Math.round(m.result.requestsPerSecond),
      p50Ms: round(m.result.p50Ms, 3),
      p99Ms: round(m.result.p99Ms, 3),
      cpuUsPerRequest: m.result.serverCpuUsPerRequest,
      foreignCpu: m.foreignCpu,
      load: m.loadBefore,
    })),
  });
  return Object.fromEntries(HTTP_TARGETS.map((name) => [name, summarise(runs[name])])) as Record<
    TargetName,
    TargetSummary
  >;
}

/** Ratios against the Node floor, when it was measured. */
function relayRows(t: HttpResults['throughput'][string]): (string | number)[][] {
  const relay = t['node-relay'];
  if (relay === undefined) return [];
  return [
    [
      'gatehouse / node-relay',
      ratio(t.gatehouse.requestsPerSecond, relay.requestsPerSecond),
      ratio(t.gatehouse.p50Ms, relay.p50Ms),
      ratio(t.gatehouse.p99Ms, relay.p99Ms),
    ],
    [
      'node-relay / direct',
      ratio(relay.requestsPerSecond, t.direct.requestsPerSecond),
      ratio(relay.p50Ms, t.direct.p50Ms),
      ratio(relay.p99Ms, t.direct.p99Ms),
    ],
  ];
}

export function httpMarkdown(results: HttpResults): string {
  const connections = Object.keys(results.throughput);
  const summary = connections.map((c) => {
    const t = results.throughput[c] as HttpResults['throughput'][string];
    return { c, t, share: ratio(t.gatehouse.requestsPerSecond, t.nginx.requestsPerSecond) };
  });
  const sseMedian = (target: 'direct' | 'gatehouse', key: keyof SseResult) =>
    round(median(results.sse[target].map((m) => m.result[key])), 3);
  const sseRow = (target: 'direct' | 'gatehouse') => [
    target,
    sseMedian(target, 'ttfbP50Ms'),
    sseMedian(target, 'ttfbP99Ms'),
    sseMedian(target, 'ttfbMeanMs'),
    sseMedian(target, 'totalP50Ms'),
  ];
  const added = (key: keyof SseResult) => round(sseMedian('gatehouse', key) - sseMedian('direct', key), 3);
  const foreign = Object.values(results.throughput).flatMap((t) =>
    Object.values(t).flatMap((s) => s.perRound.map((r) => r.foreignCpu)),
  );

  return `# HTTP benchmark

Target: Gatehouse at no less than half of nginx's throughput. Reached: ${summary
    .map(({ c, share }) => `**${share}x** of nginx at ${c} connections`)
    .join(', ')} (${summary.every((s) => s.share >= 0.5) ? 'met' : 'NOT met'}).

${machineMarkdown(results.machine, results.loadAfter, results.versions)}
- Other processes' CPU during each measurement (from /proc: machine busy time minus this benchmark's process tree), % of one core: median ${round(median(foreign), 1)}, max ${round(Math.max(...foreign), 1)}; a measurement above ${FOREIGN_CPU_LIMIT}% is taken again (up to BENCH_ATTEMPTS attempts in all, default 4, 5 s apart) and the quietest kept.

## What is measured

- **direct**: wrk -> nginx \`return 200 '<${results.settings.bodyBytes}-byte JSON>'\` (\`default_type application/json\`, 1 worker, no access log). nginx rather than a Node server as the origin: it is the cheapest origin, so the most CPU is left to the proxies on this 2-core machine.
- **node-relay**: wrk -> a bare Node reverse proxy (bench/lib/http-relay.mjs: node:http server, keep-alive agent, swaps the \`Authorization\` header, streams bodies; nothing checked or recorded): the Node floor for any HTTP proxy written in Node.
- **nginx**: wrk -> nginx reverse proxy (1 worker, \`proxy_pass\` to an upstream block with \`keepalive 128\`, HTTP/1.1, injects an \`Authorization\` header, no access log) -> the same origin.
- **gatehouse**: wrk -> \`node bin/gatehouse.js serve\` (one Node process) -> the same origin. Every request: bearer token verified (dev issuer, EdDSA/Ed25519; the same token on every request, so the verifier's token cache answers after the first), route and classify (GET = read), policy decision, operation recorded in the SQLite audit store (group commit) before the response is released, caller's \`Authorization\` replaced by the resource credential, response streamed back.
- "server CPU µs/request": CPU time (user + system, from /proc) of the server under test per request: the origin nginx for direct, the proxy (nginx worker, or the gateway process with its threads) otherwise. Unlike requests/s, it does not depend on how the 2 cores were shared, so it is the steadiest comparison here.
- wrk ${results.settings.wrk}, the same for every target, each sending \`Authorization: Bearer $TOKEN\`; ${results.settings.rounds} rounds, the targets interleaved in each round; the figures are medians over the rounds. Every response checked to be 200 (wrk's non-2xx and socket error counts are 0, or the run fails).

## Throughput and latency

${summary
  .map(
    ({ c, t }) => `### ${c} connections

${table(
  ['target', 'requests/s', 'p50 ms', 'p99 ms', 'server CPU µs/request', "per round: req/s (other processes' CPU %)"],
  HTTP_TARGETS.flatMap((name) => {
    const s = t[name];
    return s === undefined
      ? []
      : [
          [
            name,
            s.requestsPerSecond,
            s.p50Ms,
            s.p99Ms,
            s.cpuUsPerRequest,
            s.perRound.map((r) => `${r.rps} (${r.foreignCpu})`).join(', '),
          ],
        ];
  }),
)}

${table(
  ['ratio', 'throughput', 'p50 latency', 'p99 latency'],
  [
    [
      'gatehouse / direct',
      ratio(t.gatehouse.requestsPerSecond, t.direct.requestsPerSecond),
      ratio(t.gatehouse.p50Ms, t.direct.p50Ms),
      ratio(t.gatehouse.p99Ms, t.direct.p99Ms),
    ],
    [
      'gatehouse / nginx',
      ratio(t.gatehouse.requestsPerSecond, t.nginx.requestsPerSecond),
      ratio(t.gatehouse.p50Ms, t.nginx.p50Ms),
      ratio(t.gatehouse.p99Ms, t.nginx.p99Ms),
    ],
    [
      'nginx / direct',
      ratio(t.nginx.requestsPerSecond, t.direct.requestsPerSecond),
      ratio(t.nginx.p50Ms, t.direct.p50Ms),
      ratio(t.nginx.p99Ms, t.direct.p99Ms),
    ],
    ...relayRows(t),
  ],
)}`,
  )
  .join('\n\n')}

## SSE time to first byte

A small Node client (bench/http/sse-ttfb.ts) sends ${results.settings.sseRequests} sequential \`POST /v1/chat/completions\` with \`stream: true\` over one keep-alive connection (after 200 warm-up requests) to the OpenAI-compatible stand-in (src/standins/openai-stand-in.ts, its own process, ${results.settings.streamDelayMs} ms between chunks), directly and through Gatehouse (which reads the JSON body to find the model, decides, records, then streams). TTFB = request written to first body byte; "whole stream" shows the first byte is not held back until the end. Medians of ${results.sse.direct.length} rounds.

${table(['target', 'TTFB p50 ms', 'TTFB p99 ms', 'TTFB mean ms', 'whole stream p50 ms'], [sseRow('direct'), sseRow('gatehouse')])}

Added by Gatehouse: **${added('ttfbP50Ms')} ms** at p50, ${added('ttfbP99Ms')} ms at p99, ${added('ttfbMeanMs')} ms on average.

## Where the gateway's time goes

\`node --cpu-prof\` on the gateway process during a separate wrk run (64 connections, ${results.profile.requestsPerSecond.toFixed(0)} requests/s under the profiler). Self time, by module and by function:

${profileMarkdown(results.profile.summary)}

## Commands

Everything is run by \`npm run bench\` (\`bash bench/run.sh\`) or \`bash bench/http/run.sh\`; the driver (bench/http/bench.ts) ran:

\`\`\`
${results.commands.join('\n')}
\`\`\`

## Caveats

- 2 cores are shared by wrk (2 threads), the proxy under test and the origin (and, for Gatehouse, its SQLite writes): the figures are relative, not what a dedicated machine would give. nginx runs 1 worker to match the gateway's single process; more workers would not help on 2 cores already saturated by wrk and the origin.
- Other engineers' test runs may share this machine; the "other processes' CPU" column shows how much they took during each measurement.
- Loopback only: no network latency, which makes every proxy's relative overhead look larger than it would be in front of a real API.
- One token for all requests: verification is a cache hit after the first; a fresh token per request would add an Ed25519 signature check per request.
`;
}
