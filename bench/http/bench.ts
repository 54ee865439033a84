// HTTP benchmark: the same small JSON response served directly by nginx, through nginx as a reverse proxy, and
// through Gatehouse (token verification, policy, SQLite audit), with wrk; plus the time to first byte of an SSE stream
// direct and through Gatehouse; plus a CPU profile of the gateway under load. Writes bench/results/http.{md,json}.
// Run by bench/http/run.sh (which installs nginx and wrk). Tunables: BENCH_ROUNDS, BENCH_SECONDS, BENCH_SSE_REQUESTS.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summariseProfile } from '../lib/cpuprofile.js';
import { mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo, processTreeCpuMs } from '../lib/machine.js';
import { type Measured, measureQuietly, progress } from '../lib/measure.js';
import { startHttpRelay } from '../lib/node-relays.js';
import { type Background, CommandLog, freePort, run, startBackground, waitForPort } from '../lib/processes.js';
import { round, writeResults } from '../lib/report.js';
import { proxyConfig, startNginx, upstreamConfig } from './nginx.js';
import {
  type HttpResults,
  type HttpRun,
  httpMarkdown,
  type SseResult,
  summariseRuns,
  type TargetName,
} from './report.js';
import { runWrk } from './wrk.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 3;
const CONNECTIONS = [32, 64];
const THREADS = 2;
const SSE_REQUESTS = Number(process.env.BENCH_SSE_REQUESTS ?? 2000);
const SSE_ROUNDS = 2;
const STREAM_DELAY_MS = 2;

/** A few hundred bytes of JSON, the same bytes from every target. */
const BODY = JSON.stringify({
  id: 'doc-4711',
  object: 'document',
  title: 'Quarterly retrieval index status',
  owner: 'rag-pipeline',
  tags: ['index', 'embeddings', 'status'],
  chunks: 128,
  dimensions: 1536,
  updated_at: '2025-01-01T00:00:00Z',
  summary: 'All shards are healthy; the last re-index finished without errors and no documents are pending review.',
});

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-http-'));
chmodSync(dir, 0o755); // nginx workers run as nobody
const servers: Background[] = [];

try {
  const ports = {
    upstream: await freePort(),
    proxy: await freePort(),
    relay: await freePort(),
    gateway: await freePort(),
    standIn: 0,
  };
  ports.standIn = await freePort();
  progress('starting nginx (upstream and proxy), the Node relay, the OpenAI stand-in and Gatehouse');
  const upstream = await startNginx(log, dir, 'upstream', upstreamConfig(dir, ports.upstream, BODY), ports.upstream);
  servers.push(upstream);
  const proxy = await startNginx(log, dir, 'proxy', proxyConfig(dir, ports.proxy, ports.upstream), ports.proxy);
  servers.push(proxy);
  const relay = await startHttpRelay(log, ports.relay, {
    host: '127.0.0.1',
    port: ports.upstream,
    authorization: 'Bearer upstream-key',
  });
  servers.push(relay);
  const standIn = startBackground(
    log,
    'stand-in',
    'node',
    ['--import', 'tsx', 'bench/http/stand-in.ts', String(ports.standIn), 'standin-key', String(STREAM_DELAY_MS)],
    { cwd: REPO_ROOT },
  );
  servers.push(standIn);
  await waitForPort(ports.standIn, standIn);

  const config = writeGatehouseConfig(dir, gatewayYaml(ports));
  const token = await mintToken(log, config, 'bench');
  let gateway = await startGatehouse(log, config, ports.gateway);
  servers.push(gateway.server);

  const urls: Record<TargetName, string> = {
    direct: `http://127.0.0.1:${ports.upstream}/items/4711`,
    'node-relay': `http://127.0.0.1:${ports.relay}/items/4711`,
    nginx: `http://127.0.0.1:${ports.proxy}/items/4711`,
    gatehouse: `http://127.0.0.1:${ports.gateway}/api/items/4711`,
  };
  for (const [name, url] of Object.entries(urls)) await checkTarget(name, url, token);

  // Whose CPU time each target costs: the origin itself when direct, else the proxy (process and children).
  const serverPid: Record<TargetName, () => number> = {
    direct: () => upstream.pid,
    'node-relay': () => relay.pid,
    nginx: () => proxy.pid,
    gatehouse: () => gateway.server.pid,
  };
  const runs: Record<number, Record<TargetName, Measured<HttpRun>[]>> = {};
  for (let pass = 1; pass <= ROUNDS; pass++) {
    for (const connections of CONNECTIONS) {
      runs[connections] ??= { direct: [], 'node-relay': [], nginx: [], gatehouse: [] };
      for (const name of Object.keys(urls) as TargetName[]) {
        const settings = { threads: THREADS, connections, seconds: SECONDS };
        progress(`round ${pass}/${ROUNDS}: ${name}, ${connections} connections`);
        await runWrk(log, settings, urls[name], token, WARMUP_SECONDS);
        const measured = await measureQuietly(`${name} c${connections}`, async (): Promise<HttpRun> => {
          const cpuBefore = processTreeCpuMs(serverPid[name]());
          const result = await runWrk(log, settings, urls[name], token);
          const cpuMs = processTreeCpuMs(serverPid[name]()) - cpuBefore;
          return { ...result, serverCpuUsPerRequest: round((cpuMs * 1000) / result.requests, 1) };
        });
        if (measured.result.errors > 0) throw new Error(`${name}: ${measured.result.errors} failed requests`);
        runs[connections]?.[name].push(measured);
      }
    }
  }

  progress('SSE time to first byte, direct and through Gatehouse');
  const sse: Record<'direct' | 'gatehouse', Measured<SseResult>[]> = { direct: [], gatehouse: [] };
  for (let pass = 1; pass <= SSE_ROUNDS; pass++) {
    sse.direct.push(
      await measureQuietly('sse direct', () =>
        sseTtfb(`http://127.0.0.1:${ports.standIn}/v1/chat/completions`, 'Bearer standin-key'),
      ),
    );
    sse.gatehouse.push(
      await measureQuietly('sse gatehouse', () =>
        sseTtfb(`http://127.0.0.1:${ports.gateway}/llm/v1/chat/completions`, `Bearer ${token}`),
      ),
    );
  }

  progress('profiling the gateway under wrk (64 connections)');
  await gateway.server.stop();
  // Kept after the run (printed below) for a closer look, e.g. in Chrome DevTools.
  const profileDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-profile-http-'));
  const spawnedAt = Date.now();
  gateway = await startGatehouse(log, config, ports.gateway, { profileDir });
  servers.push(gateway.server);
  const profiled = { threads: THREADS, connections: 64, seconds: SECONDS };
  await runWrk(log, profiled, urls.gatehouse, token, WARMUP_SECONDS);
  const skipMs = Date.now() - spawnedAt;
  const underProfiler = await runWrk(log, profiled, urls.gatehouse, token);
  await gateway.server.stop();
  const profilePath = gateway.profilePath();
  if (!profilePath) throw new Error('the gateway wrote no CPU profile');
  progress(`the gateway's CPU profile: ${profilePath}`);

  const results: HttpResults = {
    machine,
    loadAfter: loadAverage(),
    versions: await versions(),
    settings: {
      wrk: `-t${THREADS} -c{${CONNECTIONS.join(',')}} -d${SECONDS}s --latency (warm-up ${WARMUP_SECONDS}s before each)`,
      rounds: ROUNDS,
      bodyBytes: Buffer.byteLength(BODY),
      sseRequests: SSE_REQUESTS,
      streamDelayMs: STREAM_DELAY_MS,
    },
    throughput: Object.fromEntries(
      CONNECTIONS.map((c) => [c, summariseRuns(runs[c] as Record<TargetName, Measured<HttpRun>[]>)]),
    ),
    sse,
    profile: {
      requestsPerSecond: underProfiler.requestsPerSecond,
      summary: summariseProfile(profilePath, REPO_ROOT, { skipMs }),
    },
    commands: log.commands,
  };
  writeResults('http', results, httpMarkdown(results));
  progress('wrote bench/results/http.md and http.json');
} finally {
  for (const server of servers.reverse()) await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

function gatewayYaml(ports: { upstream: number; gateway: number; standIn: number }): string {
  return `listen:
  http: 127.0.0.1:${ports.gateway}
resources:
  - name: api
    protocol: http
    pathPrefix: /api
    target: http://127.0.0.1:${ports.upstream}
    credential:
      header: authorization
      value: Bearer upstream-key
    policy:
      - groups: [bench]
        allow: [read]
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: http://127.0.0.1:${ports.standIn}
    credential:
      header: authorization
      value: Bearer standin-key
    policy:
      - groups: [bench]
        allow: [read]
        models: [gpt-4o-mini]
`;
}

/** Each target must answer 200 with the exact body before anything is measured. */
async function checkTarget(name: string, url: string, token: string): Promise<void> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (response.status !== 200 || text !== BODY) {
    throw new Error(`${name} answered ${response.status}: ${text.slice(0, 300)}`);
  }
}

async function sseTtfb(url: string, authorization: string): Promise<SseResult> {
  const { stdout } = await run(
    log,
    'node',
    ['--import', 'tsx', 'bench/http/sse-ttfb.ts', url, String(SSE_REQUESTS), '200'],
    { cwd: REPO_ROOT, env: { SSE_AUTHORIZATION: authorization } },
  );
  return JSON.parse(stdout) as SseResult;
}

async function versions(): Promise<Record<string, string>> {
  const nginx = await run(log, 'nginx', ['-v']);
  const wrk = await run(log, 'wrk', ['-v'], { allowFailure: true });
  const commit = await run(log, 'git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, allowFailure: true });
  return {
    gatehouse: `0.1.0 (${commit.stdout.trim() || 'unknown commit'}, working tree)`,
    node: process.version,
    nginx: nginx.stderr.trim().replace(/^nginx version: nginx\//, ''),
    wrk: /wrk (\S+)/.exec(wrk.stdout + wrk.stderr)?.[1] ?? 'unknown',
  };
}
