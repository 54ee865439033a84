// MCP tool calls per second and latency, directly to an MCP server and through Gatehouse, in one run: the official
// SDK client calling a small `echo` tool on the SDK's McpServer (Streamable HTTP, a process of its own), rounds
// alternating between the two paths. Added latency is the gateway's p50/p99 minus the direct one. The gateway runs
// as an operator runs it (bin/gatehouse.js serve, audit to SQLite). A bare Node HTTP relay (bench/lib/http-relay.mjs)
// in front of the same server is the Node floor, measured in the same rounds. The same tool over stdio too: the SDK
// client running the server as its child (direct-stdio), and Gatehouse running it (gatehouse-stdio). Writes
// bench/results/mcp.{md,json}.
// Tunables: BENCH_MCP_CALLS (per round and client), BENCH_MCP_ROUNDS, BENCH_MCP_CLIENTS (concurrent clients),
// BENCH_MCP_PROFILE=1 (the gateway under V8's sampling profiler: its top functions go into the results; slower).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { profileMarkdown, summariseProfile } from '../lib/cpuprofile.js';
import { type GatehouseProcess, mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo, processCpuMs, processTreeCpuMs } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { startHttpRelay } from '../lib/node-relays.js';
import { type Background, CommandLog, freePort, startBackground, waitForPort } from '../lib/processes.js';
import { machineMarkdown, median, round, table, writeResults } from '../lib/report.js';

const CALLS = Number(process.env.BENCH_MCP_CALLS ?? 2000);
const ROUNDS = Number(process.env.BENCH_MCP_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_MCP_CLIENTS ?? 1);
const PROFILE = process.env.BENCH_MCP_PROFILE === '1';
const PATHS = ['direct', 'node-relay', 'gatehouse', 'direct-stdio', 'gatehouse-stdio'] as const;
/** What each path is compared with: the same server reached directly over the same transport. */
const BASELINE: Record<Path, Path> = {
  direct: 'direct',
  'node-relay': 'direct',
  gatehouse: 'direct',
  'direct-stdio': 'direct-stdio',
  'gatehouse-stdio': 'direct-stdio',
};
const ECHO_SERVER = join(REPO_ROOT, 'bench/mcp/echo-server.mjs');
type Path = (typeof PATHS)[number];

interface RoundResult {
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time (user + system) of the proxy process per call; undefined for direct. */
  readonly proxyCpuUsPerCall?: number;
}

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-mcp-'));
let upstream: Background | undefined;
let relay: Background | undefined;
let gateway: GatehouseProcess | undefined;
const clients: Client[] = [];

try {
  progress('starting the echo MCP server and Gatehouse');
  const upstreamPort = await freePort();
  upstream = startBackground(log, 'echo-server', 'node', [ECHO_SERVER], {
    cwd: REPO_ROOT,
    env: { PORT: String(upstreamPort) },
  });
  await waitForPort(upstreamPort, upstream);
  const relayPort = await freePort();
  relay = await startHttpRelay(log, relayPort, { host: '127.0.0.1', port: upstreamPort, authorization: 'Bearer none' });
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
  - name: echo-stdio
    protocol: mcp
    upstream: { transport: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(ECHO_SERVER)}], env: { MCP_STDIO: "1" } }
    policy:
      - groups: [bench]
        targets: [echo]
        allow: [write]
`,
  );
  const token = await mintToken(log, config, 'bench');
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'gatehouse-bench-profile-mcp-')) : undefined;
  gateway = await startGatehouse(log, config, gatewayPort, profileDir === undefined ? {} : { profileDir });
  const urls: Record<Exclude<Path, 'direct-stdio'>, string> = {
    direct: `http://127.0.0.1:${upstreamPort}/mcp`,
    'node-relay': `http://127.0.0.1:${relayPort}/mcp`,
    gatehouse: `http://127.0.0.1:${gatewayPort}/mcp/echo`,
    'gatehouse-stdio': `http://127.0.0.1:${gatewayPort}/mcp/echo-stdio`,
  };
  const connect = async (path: Path): Promise<Client> => {
    const client = new Client({ name: 'bench', version: '1' });
    if (path === 'direct-stdio') {
      const env = { PATH: process.env.PATH ?? '', MCP_STDIO: '1' };
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [ECHO_SERVER], env }));
    } else {
      const through = path === 'gatehouse' || path === 'gatehouse-stdio';
      const headers: Record<string, string> = through ? { authorization: `Bearer ${token}` } : {};
      await client.connect(new StreamableHTTPClientTransport(new URL(urls[path]), { requestInit: { headers } }));
    }
    clients.push(client);
    return client;
  };
  const pools = Object.fromEntries(PATHS.map((path) => [path, [] as Client[]])) as Record<Path, Client[]>;
  // The gateway's own CPU, not its children's: over stdio the echo server is its child.
  const proxyCpuMs = (path: Path): (() => number) | undefined => {
    const gatewayPid = gateway?.server.pid;
    const relayPid = relay?.pid;
    if ((path === 'gatehouse' || path === 'gatehouse-stdio') && gatewayPid !== undefined)
      return () => processCpuMs(gatewayPid);
    if (path === 'node-relay' && relayPid !== undefined) return () => processTreeCpuMs(relayPid);
    return undefined;
  };
  for (const path of PATHS) for (let i = 0; i < CLIENTS; i++) pools[path].push(await connect(path));

  const round = async (path: Path, calls: number): Promise<RoundResult> => {
    const latencies: number[] = [];
    const cpu = proxyCpuMs(path);
    const cpuBefore = cpu?.() ?? 0;
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
    const cpuUs = cpu === undefined ? undefined : (cpu() - cpuBefore) * 1000;
    return {
      callsPerSecond: latencies.length / seconds,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      ...(cpuUs === undefined ? {} : { proxyCpuUsPerCall: cpuUs / latencies.length }),
    };
  };
  // Warm-up: connections, JIT, the gateway's tool list and pins.
  for (const path of PATHS) await round(path, Math.min(200, CALLS));
  const runs = Object.fromEntries(PATHS.map((path) => [path, [] as RoundResult[]])) as Record<Path, RoundResult[]>;
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
  await relay?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
}

function markdown(
  loadAfter: readonly number[],
  runs: Record<Path, RoundResult[]>,
  profile: ReturnType<typeof summariseProfile> | undefined,
): string {
  const med = (path: Path, key: keyof RoundResult) => median(runs[path].map((r) => r[key] ?? Number.NaN));
  const rows = PATHS.map((path) => [
    path,
    round(med(path, 'callsPerSecond'), 0),
    round(med(path, 'p50Ms'), 3),
    round(med(path, 'p99Ms'), 3),
    BASELINE[path] === path ? '' : round(med(path, 'proxyCpuUsPerCall'), 1),
    BASELINE[path] === path ? '' : round(med(path, 'callsPerSecond') / med(BASELINE[path], 'callsPerSecond'), 2),
  ]);
  const added = (path: Path, key: 'p50Ms' | 'p99Ms') => round(med(path, key) - med(BASELINE[path], key), 3);
  return [
    '# MCP: tool calls directly and through Gatehouse',
    '',
    `The SDK client calling \`echo\` on the SDK's McpServer, ${CLIENTS} client(s), ${CALLS} calls per round and client,`,
    `${ROUNDS} rounds alternating; medians of the rounds. Through Gatehouse every call is authenticated, decided and`,
    'recorded (SQLite audit), and its result scanned for masking, before it is answered. Streamable HTTP: the server',
    'is a process of its own (direct, node-relay, gatehouse). stdio: the server is a child of the SDK client',
    '(direct-stdio) or of the gateway, which the client reaches over Streamable HTTP (gatehouse-stdio).',
    '',
    table(['path', 'calls/s', 'p50 ms', 'p99 ms', 'proxy CPU µs/call', 'calls/s vs direct'], rows),
    '',
    `Added by Gatehouse: p50 ${added('gatehouse', 'p50Ms')} ms, p99 ${added('gatehouse', 'p99Ms')} ms (target: under 1 ms at p50).`,
    `Added by Gatehouse in front of a stdio server (against the client running it itself): p50 ${added('gatehouse-stdio', 'p50Ms')} ms, p99 ${added('gatehouse-stdio', 'p99Ms')} ms.`,
    `Added by the bare Node relay (the floor for a proxy written in Node): p50 ${added('node-relay', 'p50Ms')} ms, p99 ${added('node-relay', 'p99Ms')} ms.`,
    'Proxy CPU µs/call is CPU time of the proxy process (user + system, from /proc; the gateway without its stdio',
    'child) per call: unlike calls/s and latency, it does not depend on how the 2 cores were shared.',
    '',
    ...(profile === undefined
      ? []
      : ['## The gateway under the profiler (these rounds ran slower)', '', profileMarkdown(profile), '']),
    machineMarkdown(machine, loadAfter, { node: process.version }),
  ].join('\n');
}
