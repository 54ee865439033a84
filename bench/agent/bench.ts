// Agent tunnel benchmark: pgbench -S through the gateway with the direct connector and through an agent (its own
// process, reverse HTTP/2 over TLS on loopback), in one run, same gateway, same backend. Target: the tunnel at 0.8x or
// more of the direct connector's throughput; added latency reported. Writes bench/results/agent.{md,json}.
// Run by bench/agent/run.sh. Tunables: BENCH_AGENT_SECONDS (10), BENCH_AGENT_CLIENTS ("1,8"), BENCH_AGENT_MODES
// ("simple,extended").
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureQuickstartCertificate } from '../../src/quickstart/quickstart-certificate.js';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { postgresTargetYaml } from '../../test/support/gateway-config.js';
import { mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { type Background, CommandLog, freePort, run, startBackground } from '../lib/processes.js';
import { round, writeResults } from '../lib/report.js';
import { type PgbenchResult, type PgbenchTarget, type QueryMode, runPgbench } from '../postgres/pgbench.js';

const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 10);
const WARMUP_SECONDS = Math.min(3, SECONDS);
const CLIENTS = (process.env.BENCH_AGENT_CLIENTS ?? '1,8').split(',').map(Number);
const MODES = (process.env.BENCH_AGENT_MODES ?? 'simple,extended').split(',') as QueryMode[];
const SCALE = 10;

const log = new CommandLog();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-agent-'));
chmodSync(dir, 0o755);
const servers: Background[] = [];
delete process.env.GATEHOUSE_TEST_PG_URL;
let backend: TestPostgres | undefined;

interface Row {
  readonly mode: QueryMode;
  readonly clients: number;
  readonly direct: PgbenchResult;
  readonly tunnel: PgbenchResult;
  readonly ratio: number;
  readonly addedLatencyMs: number;
}

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
  const gateway = await startGatehouse(log, config, gatewayPort, { env });
  servers.push(gateway.server);
  const agent = startBackground(
    log,
    'agent',
    'node',
    [join(REPO_ROOT, 'bin/gatehouse.js'), 'agent', '-c', join(dir, 'agent.yaml')],
    {
      cwd: REPO_ROOT,
      env: { BENCH_PG_PASSWORD: backend.password },
    },
  );
  servers.push(agent);
  await waitForAgent(adminPort);

  const target = (database: string): PgbenchTarget => ({
    host: '127.0.0.1',
    port: gatewayPort,
    user: 'bench',
    database,
    password: token,
  });
  const rows: Row[] = [];
  for (const clients of CLIENTS) {
    for (const mode of MODES) {
      const measured: Record<'direct' | 'tunnel', PgbenchResult> = {} as never;
      for (const [name, database] of [
        ['direct', 'direct'],
        ['tunnel', 'tunneled'],
      ] as const) {
        progress(`${name}: pgbench -S -M ${mode} -c ${clients}, ${SECONDS}s`);
        await runPgbench(log, target(database), mode, clients, WARMUP_SECONDS);
        measured[name] = await runPgbench(log, target(database), mode, clients, SECONDS);
      }
      rows.push({
        mode,
        clients,
        direct: measured.direct,
        tunnel: measured.tunnel,
        ratio: round(measured.tunnel.tps / measured.direct.tps, 3),
        addedLatencyMs: round(measured.tunnel.latencyMs - measured.direct.latencyMs, 3),
      });
    }
  }
  const results = {
    machine: machineInfo(),
    loadAfter: loadAverage(),
    settings: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, scale: SCALE },
    rows,
    commands: log.commands,
  };
  writeResults('agent', results, markdown(rows));
  progress('wrote bench/results/agent.md and agent.json');
} finally {
  for (const server of servers.reverse()) await server.stop();
  await backend?.stop();
  rmSync(dir, { recursive: true, force: true });
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

function markdown(rows: readonly Row[]): string {
  const lines = [
    '# Agent tunnel: pgbench -S, direct connector vs through the agent',
    '',
    `Generated by bench/agent/run.sh (${SECONDS}s per run, after ${WARMUP_SECONDS}s warm-up). Target: tunnel >= 0.8x direct.`,
    '',
    '| mode | clients | direct tps | tunnel tps | tunnel/direct | direct latency ms | tunnel latency ms | added ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.mode} | ${r.clients} | ${round(r.direct.tps, 0)} | ${round(r.tunnel.tps, 0)} | ${r.ratio} | ${r.direct.latencyMs} | ${r.tunnel.latencyMs} | ${r.addedLatencyMs} |`,
    );
  return lines.join('\n');
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
