// The price of planner thresholds: pgbench -S (simple protocol) through Gatehouse as a caller no threshold applies to,
// and as one whose rule has maxCost/maxRows (so every statement is EXPLAINed first on the session's own connection;
// pgbench's random account ids make nearly every text new, so the short cache rarely answers). Same gateway, same
// run, alternating. Writes bench/results/thresholds.{md,json}. Tunables: BENCH_THRESHOLDS_SECONDS, _ROUNDS, _CLIENTS.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { postgresTargetYaml } from '../../test/support/gateway-config.js';
import { type GatehouseProcess, mintToken, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { CommandLog, freePort, run } from '../lib/processes.js';
import { machineMarkdown, median, round, table, writeResults } from '../lib/report.js';
import { type PgbenchResult, type PgbenchTarget, runPgbench } from '../postgres/pgbench.js';

const SECONDS = Number(process.env.BENCH_THRESHOLDS_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_THRESHOLDS_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_THRESHOLDS_CLIENTS ?? 1);
const VARIANTS = ['no threshold', 'maxCost rule (EXPLAIN first)'] as const;
type Variant = (typeof VARIANTS)[number];

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-thresholds-'));
chmodSync(dir, 0o755);
delete process.env.GATEHOUSE_TEST_PG_URL;
let backend: TestPostgres | undefined;
let gateway: GatehouseProcess | undefined;

try {
  progress('starting PostgreSQL and Gatehouse');
  backend = await startPostgres();
  log.redact(backend.password, '$PG_PASSWORD');
  const { host, port, user, database, password } = backend;
  await run(log, 'pgbench', ['-i', '-s', '1', '-h', host, '-p', String(port), '-U', user, database], {
    env: { PGPASSWORD: password },
  });
  const gatewayPort = await freePort();
  const config = writeGatehouseConfig(dir, gatewayYaml(gatewayPort, backend));
  const env = { BENCH_PG_PASSWORD: password };
  const tokens: Record<Variant, string> = {
    'no threshold': await mintToken(log, config, 'plain', env),
    'maxCost rule (EXPLAIN first)': await mintToken(log, config, 'limited', env),
  };
  gateway = await startGatehouse(log, config, gatewayPort, { env });
  const target = (variant: Variant): PgbenchTarget => ({
    host: '127.0.0.1',
    port: gatewayPort,
    user: 'bench',
    database: 'bench',
    password: tokens[variant],
  });

  const runs: Record<Variant, PgbenchResult[]> = { 'no threshold': [], 'maxCost rule (EXPLAIN first)': [] };
  for (const variant of VARIANTS) await runPgbench(log, target(variant), 'simple', CLIENTS, 2);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of VARIANTS) {
      progress(`round ${round}/${ROUNDS}: ${variant}`);
      runs[variant].push(await runPgbench(log, target(variant), 'simple', CLIENTS, SECONDS));
    }
  }
  const results = {
    machine,
    loadAfter: loadAverage(),
    settings: { SECONDS, ROUNDS, CLIENTS },
    runs,
    commands: log.commands,
  };
  writeResults('thresholds', results, markdown(results.loadAfter, runs));
  progress('wrote bench/results/thresholds.md and thresholds.json');
} finally {
  await gateway?.server.stop();
  await backend?.stop();
  rmSync(dir, { recursive: true, force: true });
}

function markdown(loadAfter: number[], runs: Record<Variant, PgbenchResult[]>): string {
  const latency = (variant: Variant) => median(runs[variant].map((r) => r.latencyMs));
  const extraUs = round((latency('maxCost rule (EXPLAIN first)') - latency('no threshold')) * 1000, 0);
  return `# Planner thresholds: the EXPLAIN round trip

pgbench -S -M simple, ${CLIENTS} client(s), ${ROUNDS} rounds of ${SECONDS} s per variant, alternating, through one
Gatehouse. The limited caller's rule has maxCost and maxRows far above what pgbench's statement costs: every statement
is EXPLAINed on the session's own connection before it is decided, and then runs. Median of the rounds.

${machineMarkdown(machine, loadAfter, { node: process.version })}

${table(
  ['variant', 'tps (median)', 'latency ms (median)', 'rounds (tps)'],
  VARIANTS.map((v) => [
    v,
    round(median(runs[v].map((r) => r.tps)), 0),
    round(latency(v), 3),
    runs[v].map((r) => round(r.tps, 0)).join(', '),
  ]),
)}

The EXPLAIN round trip adds about ${extraUs} µs per statement here.
`;
}

function gatewayYaml(port: number, backend: TestPostgres): string {
  return `listen:
  postgres: 127.0.0.1:${port}
postgres:
  allowPlaintextPassword: true # loopback only
resources:
  - name: bench
    protocol: postgres
${postgresTargetYaml(backend, 'BENCH_PG_PASSWORD')}    policy:
      - groups: [plain]
        allow: [read]
      - groups: [limited]
        allow: [read]
        maxCost: 1000000
        maxRows: 1000000
`;
}
