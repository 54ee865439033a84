// Agent tunnel benchmark: pgbench -S against PostgreSQL itself, a bare Node TCP relay (the floor of any Node proxy),
// pgbouncer (the peer, session pooling), and the gateway with its direct connector and through an agent (its own
// process, reverse HTTP/2 over TLS on loopback), all in one run, same backend. Target: via agent at 0.8x or more of
// the direct connector's throughput. Reports tps, latency p50/p99 (added over PostgreSQL and over the direct
// connector) and CPU µs per transaction of each proxy process (gateway and agent separately). Writes
// bench/results/agent.{md,json}. Run by bench/agent/run.sh. Tunables: BENCH_AGENT_SECONDS (10),
// BENCH_AGENT_WARMUP (3), BENCH_AGENT_CLIENTS ("1,8"), BENCH_AGENT_MODES ("simple,extended"), BENCH_AGENT_SAMPLING
// (0.2: share of transactions logged for percentiles), BENCH_AGENT_PROFILE_DIR (gateway and agent under --cpu-prof),
// BENCH_AGENT_TARGETS (a subset such as "direct,tunnel": printed, results not written), BENCH_AGENT_TRACED (500:
// transactions per client of the pass that counts syscalls with strace; 0 skips it).
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureQuickstartCertificate } from '../../src/quickstart/quickstart-certificate.js';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { postgresTargetYaml } from '../../test/support/gateway-config.js';
import { mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo, processTreeCpuMs } from '../lib/machine.js';
import { type Measured, measureQuietly, progress } from '../lib/measure.js';
import { startTcpRelay } from '../lib/node-relays.js';
import { type Background, CommandLog, freePort, run, startBackground } from '../lib/processes.js';
import { round, writeResults } from '../lib/report.js';
import { type PgbenchTarget, type QueryMode, runPgbench } from '../postgres/pgbench.js';
import { startPgbouncer } from '../postgres/pgbouncer.js';
import { runPgbenchTransactions, runPgbenchWithLatency } from './pgbench-latency.js';
import {
  type AgentBenchRow,
  type AgentBenchRun,
  agentMarkdown,
  type CpuSide,
  TARGETS,
  type TargetName,
} from './report.js';
import { countSyscalls } from './syscalls.js';

const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_AGENT_WARMUP ?? Math.min(3, SECONDS));
const CLIENTS = (process.env.BENCH_AGENT_CLIENTS ?? '1,8').split(',').map(Number);
const MODES = (process.env.BENCH_AGENT_MODES ?? 'simple,extended').split(',') as QueryMode[];
const SAMPLING = Number(process.env.BENCH_AGENT_SAMPLING ?? 0.2);
const PROFILE_DIR = process.env.BENCH_AGENT_PROFILE_DIR;
/** A subset of targets (e.g. "direct,tunnel") for a quick look or a profile: printed, not written to results. */
const ONLY = process.env.BENCH_AGENT_TARGETS?.split(',') as TargetName[] | undefined;
/** Transactions per client of the traced pass (syscalls per transaction); 0 skips it. */
const TRACED = Number(process.env.BENCH_AGENT_TRACED ?? 500);
const SCALE = 10;

const log = new CommandLog();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-agent-'));
chmodSync(dir, 0o755);
const servers: Background[] = [];
delete process.env.GATEHOUSE_TEST_PG_URL;
let backend: TestPostgres | undefined;

try {
  progress('starting PostgreSQL, the gateway and the agent');
  backend = await startPostgres();
  log.redact(backend.password, '$PG_PASSWORD');
  await run(
    log,
    'pgbench',
    ['-i', '-s', String(SCALE), '-h', backend.host, '-p', String(backend.port), '-U', backend.user, backend.database],
    { env: { PGPASSWORD: backend.password } },
  );
  const cert = join(dir, 'tunnel.crt');
  await ensureQuickstartCertificate({ cert, key: join(dir, 'tunnel.key') });
  const pin = new X509Certificate(readFileSync(cert)).fingerprint256;
  const [gatewayPort, agentsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const config = writeGatehouseConfig(dir, gatewayYaml(gatewayPort, agentsPort, adminPort, backend));
  const env = { BENCH_PG_PASSWORD: backend.password };
  const token = await mintToken(log, config, 'bench', env);
  const agentToken = (
    await run(
      log,
      'node',
      [join(REPO_ROOT, 'bin/gatehouse.js'), 'token', 'mint', '-c', config, '--sub', 'agent-bench', '--ttl', '2h'],
      { cwd: REPO_ROOT, env },
    )
  ).stdout.trim();
  log.redact(agentToken, '$AGENT_TOKEN');
  writeFileSync(join(dir, 'agent.token'), agentToken, { mode: 0o600 });
  writeFileSync(join(dir, 'agent.yaml'), agentYaml(agentsPort, pin, backend));
  const profile = PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];
  if (PROFILE_DIR !== undefined) mkdirSync(PROFILE_DIR, { recursive: true });
  const gateway = await startGatehouse(log, config, gatewayPort, {
    env,
    ...(PROFILE_DIR ? { profileDir: PROFILE_DIR } : {}),
  });
  servers.push(gateway.server);
  const agent = startBackground(
    log,
    'agent',
    'node',
    [...profile, join(REPO_ROOT, 'bin/gatehouse.js'), 'agent', '-c', join(dir, 'agent.yaml')],
    { cwd: REPO_ROOT, env: { BENCH_PG_PASSWORD: backend.password } },
  );
  servers.push(agent);
  await waitForAgent(adminPort);
  const relayPort = await freePort();
  const relay = await startTcpRelay(log, relayPort, backend);
  servers.push(relay);
  const bouncerDir = join(dir, 'pgbouncer');
  mkdirSync(bouncerDir);
  const bouncerPort = await freePort();
  const bouncer = await startPgbouncer(log, bouncerDir, bouncerPort, 'bench', backend);
  servers.push(bouncer);

  const backendTarget: PgbenchTarget = { ...backend };
  const viaGateway = (database: string): PgbenchTarget => ({
    host: '127.0.0.1',
    port: gatewayPort,
    user: 'bench',
    database,
    password: token,
  });
  const targets: Record<TargetName, { target: PgbenchTarget; cpu: Partial<Record<CpuSide, number>> }> = {
    backend: { target: backendTarget, cpu: {} },
    relay: { target: { ...backendTarget, port: relayPort }, cpu: { relay: relay.pid } },
    pgbouncer: { target: { ...backendTarget, port: bouncerPort, database: 'bench' }, cpu: { pgbouncer: bouncer.pid } },
    direct: { target: viaGateway('direct'), cpu: { gateway: gateway.server.pid } },
    tunnel: { target: viaGateway('tunneled'), cpu: { gateway: gateway.server.pid, agent: agent.pid } },
  };
  const rows: AgentBenchRow[] = [];
  for (const clients of CLIENTS) {
    for (const mode of MODES) {
      const runs = {} as Record<TargetName, Measured<AgentBenchRun>>;
      for (const name of TARGETS.filter((t) => ONLY === undefined || ONLY.includes(t))) {
        const { target, cpu } = targets[name];
        progress(`${name}: pgbench -S -M ${mode} -c ${clients}, ${SECONDS}s`);
        if (WARMUP_SECONDS > 0) await runPgbench(log, target, mode, clients, WARMUP_SECONDS);
        runs[name] = await measureQuietly(`${name} ${mode} c${clients}`, async () => {
          const before = cpuNow(cpu);
          const result = await runPgbenchWithLatency(log, target, mode, clients, SECONDS, SAMPLING);
          const after = cpuNow(cpu);
          const cpuUsPerTransaction: Partial<Record<CpuSide, number>> = {};
          for (const side of Object.keys(cpu) as CpuSide[])
            cpuUsPerTransaction[side] = round(
              (((after[side] ?? 0) - (before[side] ?? 0)) * 1000) / result.transactions,
              1,
            );
          return { ...result, cpuUsPerTransaction };
        });
      }
      const syscalls: AgentBenchRow['syscalls'] = {};
      if (TRACED > 0 && (await hasStrace()))
        for (const name of TARGETS.filter((t) => ONLY === undefined || ONLY.includes(t))) {
          const { target, cpu } = targets[name];
          if (Object.keys(cpu).length === 0) continue;
          progress(`${name}: counting syscalls over ${TRACED * clients} transactions (strace)`);
          syscalls[name] = await countSyscalls(cpu as Record<string, number>, () =>
            runPgbenchTransactions(log, target, mode, clients, TRACED),
          );
        }
      rows.push({ mode, clients, runs, syscalls });
    }
  }
  const machine = machineInfo();
  const settings = { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, scale: SCALE, samplingRate: SAMPLING };
  const results = { machine, loadAfter: loadAverage(), settings, rows, commands: log.commands };
  const machineLine = `${machine.date}, ${machine.nproc} CPUs (${machine.cpuModel}), Node ${machine.node}, load after ${loadAverage().join(' ')}`;
  if (ONLY !== undefined) {
    for (const row of rows)
      for (const [name, measured] of Object.entries(row.runs))
        progress(
          `${row.mode} c${row.clients} ${name}: ${JSON.stringify(measured.result)} ${JSON.stringify(row.syscalls[name as TargetName] ?? {})}`,
        );
  } else {
    writeResults('agent', results, agentMarkdown(rows, settings, machineLine));
    progress('wrote bench/results/agent.md and agent.json');
  }
} finally {
  for (const server of servers.reverse()) await server.stop();
  await backend?.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function hasStrace(): Promise<boolean> {
  return (await run(log, 'strace', ['-V'], { allowFailure: true }).catch(() => ({ code: 1 }))).code === 0;
}

/** CPU time so far (ms) of each measured proxy process tree. */
function cpuNow(pids: Partial<Record<CpuSide, number>>): Partial<Record<CpuSide, number>> {
  const now: Partial<Record<CpuSide, number>> = {};
  for (const [side, pid] of Object.entries(pids) as [CpuSide, number][]) now[side] = processTreeCpuMs(pid);
  return now;
}

async function waitForAgent(adminPort: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const body = await fetch(`http://127.0.0.1:${adminPort}/readyz`)
      .then((res) => res.json() as Promise<{ agents?: unknown[] }>)
      .catch(() => ({ agents: [] }));
    if ((body.agents?.length ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the agent did not connect within a minute');
}

function gatewayYaml(port: number, agentsPort: number, adminPort: number, pg: TestPostgres): string {
  const policy = `    policy:
      - groups: [bench]
        allow: [read]
        deny: [write, ddl, admin]
`;
  return `listen:
  postgres: 127.0.0.1:${port}
  admin: 127.0.0.1:${adminPort}
postgres:
  allowPlaintextPassword: true # loopback only
agents:
  listen: 127.0.0.1:${agentsPort}
  tls: { cert: tunnel.crt, key: tunnel.key }
  policy:
    - subjects: [agent-bench]
      resources: [tunneled]
resources:
  - name: direct
    protocol: postgres
${postgresTargetYaml(pg, 'BENCH_PG_PASSWORD')}${policy}  - name: tunneled
    protocol: postgres
    via: agent
    target: { host: agent, database: ${pg.database}, user: agent }
${policy}`;
}

function agentYaml(agentsPort: number, pin: string, pg: TestPostgres): string {
  return `name: agent-bench
gateway:
  address: 127.0.0.1:${agentsPort}
  pin: "${pin}"
token:
  file: agent.token
resources:
  - name: tunneled
    protocol: postgres
    target:
      host: ${pg.host}
      port: ${pg.port}
      database: ${pg.database}
      user: ${pg.user}
      password: \${env:BENCH_PG_PASSWORD}
`;
}
