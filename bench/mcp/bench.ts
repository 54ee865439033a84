// MCP tool calls per second and latency, directly to an MCP server and through Gatehouse, in one run: the official
// SDK client calling a small `echo` tool on the SDK's McpServer (Streamable HTTP, a process of its own), rounds
// alternating between the two paths. Added latency is the gateway's p50/p99 minus the direct one. The gateway runs
// as an operator runs it (bin/gatehouse.js serve, audit to SQLite). Writes bench/results/mcp.{md,json}.
// Tunables: BENCH_MCP_CALLS (per round and client), BENCH_MCP_ROUNDS, BENCH_MCP_CLIENTS (concurrent clients),
// BENCH_MCP_PROFILE=1 (the gateway under V8's sampling profiler: its top functions go into the results; slower).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { profileMarkdown, summariseProfile } from '../lib/cpuprofile.js';
import { type GatehouseProcess, mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { type Background, CommandLog, freePort, startBackground, waitForPort } from '../lib/processes.js';
import { machineMarkdown, median, round, table, writeResults } from '../lib/report.js';

const CALLS = Number(process.env.BENCH_MCP_CALLS ?? 2000);
const ROUNDS = Number(process.env.BENCH_MCP_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_MCP_CLIENTS ?? 1);
const PROFILE = process.env.BENCH_MCP_PROFILE === '1';
const PATHS = ['direct', 'gatehouse'] as const;
type Path = (typeof PATHS)[number];

interface RoundResult {
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-mcp-'));
let upstream: Background | undefined;
let gateway: GatehouseProcess | undefined;
const clients: Client[] = [];

try {
  progress('starting the echo MCP server and Gatehouse');
  const upstreamPort = await freePort();
  upstream = startBackground(log, 'echo-server', 'node', [join(REPO_ROOT, 'bench/mcp/echo-server.mjs')], {
    cwd: REPO_ROOT,
    env: { PORT: String(upstreamPort) },
  });
  await waitForPort(upstreamPort, upstream);
  const gatewayPort = await freePort();
  const config = writeGatehouseConfig(
    dir,
    `listen:
  mcp: 127.0.0.1:${gatewayPort}
resources:
  - name: echo
    protocol: mcp
    upstream: { transport: http, url: "http://127.0.0.1:${upstreamPort}/mcp" }
    policy:
      - groups: [bench]
        targets: [echo]
        allow: [write]
`,
  );
  const token = await mintToken(log, config, 'bench');
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'gatehouse-bench-profile-mcp-')) : undefined;
  gateway = await startGatehouse(log, config, gatewayPort, profileDir === undefined ? {} : { profileDir });
  const urls: Record<Path, string> = {
    direct: `http://127.0.0.1:${upstreamPort}/mcp`,
    gatehouse: `http://127.0.0.1:${gatewayPort}/mcp/echo`,
  };
  const connect = async (path: Path): Promise<Client> => {
    const client = new Client({ name: 'bench', version: '1' });
    const headers: Record<string, string> = path === 'gatehouse' ? { authorization: `Bearer ${token}` } : {};
    await client.connect(new StreamableHTTPClientTransport(new URL(urls[path]), { requestInit: { headers } }));
    clients.push(client);
    return client;
  };
  const pools: Record<Path, Client[]> = { direct: [], gatehouse: [] };
  for (const path of PATHS) for (let i = 0; i < CLIENTS; i++) pools[path].push(await connect(path));

  const round = async (path: Path, calls: number): Promise<RoundResult> => {
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      pools[path].map(async (client) => {
        for (let i = 0; i < calls; i++) {
          const t0 = performance.now();
          await client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
    return { callsPerSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
  };
  // Warm-up: connections, JIT, the gateway's tool list and pins.
  for (const path of PATHS) await round(path, Math.min(200, CALLS));
  const runs: Record<Path, RoundResult[]> = { direct: [], gatehouse: [] };
  for (let r = 1; r <= ROUNDS; r++) {
    for (const path of PATHS) {
      progress(`round ${r}/${ROUNDS}: ${path}`);
      runs[path].push(await round(path, CALLS));
    }
  }
  let profile: ReturnType<typeof summariseProfile> | undefined;
  if (profileDir !== undefined) {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    await gateway.server.stop();
    const path = gateway.profilePath();
    gateway = undefined;
    if (path !== undefined) profile = summariseProfile(path, REPO_ROOT, { skipMs: 2_000 });
    rmSync(profileDir, { recursive: true, force: true });
  }
  const results = {
    machine,
    loadAfter: loadAverage(),
    settings: { CALLS, ROUNDS, CLIENTS, PROFILE },
    runs,
    ...(profile === undefined ? {} : { profile }),
    commands: log.commands,
  };
  writeResults('mcp', results, markdown(results.loadAfter, runs, profile));
  progress('wrote bench/results/mcp.md and mcp.json');
} finally {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway?.server.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
}

function markdown(
  loadAfter: readonly number[],
  runs: Record<Path, RoundResult[]>,
  profile: ReturnType<typeof summariseProfile> | undefined,
): string {
  const med = (path: Path, key: keyof RoundResult) => median(runs[path].map((r) => r[key]));
  const rows = PATHS.map((path) => [
    path,
    round(med(path, 'callsPerSecond'), 0),
    round(med(path, 'p50Ms'), 3),
    round(med(path, 'p99Ms'), 3),
  ]);
  const added = (key: 'p50Ms' | 'p99Ms') => round(med('gatehouse', key) - med('direct', key), 3);
  return [
    '# MCP: tool calls directly and through Gatehouse',
    '',
    `The SDK client calling \`echo\` on the SDK's McpServer (Streamable HTTP), ${CLIENTS} client(s), ${CALLS} calls per`,
    `round and client, ${ROUNDS} rounds alternating; medians of the rounds. Through Gatehouse every call is authenticated,`,
    'decided and recorded (SQLite audit), and its result scanned for masking, before it is answered.',
    '',
    table(['path', 'calls/s', 'p50 ms', 'p99 ms'], rows),
    '',
    `Added by Gatehouse: p50 ${added('p50Ms')} ms, p99 ${added('p99Ms')} ms.`,
    '',
    ...(profile === undefined
      ? []
      : ['## The gateway under the profiler (these rounds ran slower)', '', profileMarkdown(profile), '']),
    machineMarkdown(machine, loadAfter, { node: process.version }),
  ].join('\n');
}
