// The price of planner thresholds: pgbench -S through Gatehouse as a caller no threshold applies to, and as one whose
// rule has maxCost/maxRows (so every statement is EXPLAINed first on the session's own connection). Simple protocol
// (pgbench's random account ids make nearly every text new, so the short cache rarely answers), extended and
// prepared (an EXPLAIN with the bound parameters inside the batch at every Execute, never cached). Same gateway,
// same run, alternating. Writes bench/results/thresholds.{md,json}. Tunables: BENCH_THRESHOLDS_SECONDS, _ROUNDS,
// _CLIENTS, _MODES (comma-separated: simple,extended,prepared).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { postgresBenchGatewayYaml } from '../../test/support/gateway-config.js';
import { type GatehouseProcess, mintToken, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { CommandLog, freePort, run } from '../lib/processes.js';
import { machineMarkdown, median, round, table, writeResults } from '../lib/report.js';
import { type PgbenchResult, type PgbenchTarget, type QueryMode, runPgbench } from '../postgres/pgbench.js';

const SECONDS = Number(process.env.BENCH_THRESHOLDS_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_THRESHOLDS_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_THRESHOLDS_CLIENTS ?? 1);
const MODES = (process.env.BENCH_THRESHOLDS_MODES ?? 'simple,extended,prepared').split(',') as QueryMode[];
const VARIANTS = ['no threshold', 'maxCost rule (EXPLAIN first)'] as const;
type Variant = (typeof VARIANTS)[number];
type Runs = Record<string, Record<Variant, PgbenchResult[]>>;

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

  const runs: Runs = Object.fromEntries(
    MODES.map((mode) => [mode, { 'no threshold': [], 'maxCost rule (EXPLAIN first)': [] }]),
  );
  for (const mode of MODES) for (const variant of VARIANTS) await runPgbench(log, target(variant), mode, CLIENTS, 2);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of MODES) {
      for (const variant of VARIANTS) {
        progress(`round ${round}/${ROUNDS}: ${mode}, ${variant}`);
        runs[mode]?.[variant].push(await runPgbench(log, target(variant), mode, CLIENTS, SECONDS));
      }
    }
  }
  const results = {
    machine,
    loadAfter: loadAverage(),
    settings: { SECONDS, ROUNDS, CLIENTS, MODES },
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

function markdown(loadAfter: number[], runs: Runs): string {
  const latency = (mode: string, variant: Variant) => median(runs[mode]?.[variant].map((r) => r.latencyMs) ?? []);
  const extraUs = (mode: string) =>
    round((latency(mode, 'maxCost rule (EXPLAIN first)') - latency(mode, 'no threshold')) * 1000, 0);
  return `# Planner thresholds: the EXPLAIN round trip

pgbench -S -M ${MODES.join(' / ')}, ${CLIENTS} client(s), ${ROUNDS} rounds of ${SECONDS} s per variant, alternating,
through one Gatehouse. The limited caller's rule has maxCost and maxRows far above what pgbench's statement costs:
every statement is EXPLAINed on the session's own connection before it is decided (extended and prepared: with its
bound parameters, inside the batch), and then runs. Median of the rounds.

${machineMarkdown(machine, loadAfter, { node: process.version })}

${table(
  ['protocol', 'variant', 'tps (median)', 'latency ms (median)', 'rounds (tps)'],
  MODES.flatMap((mode) =>
    VARIANTS.map((v) => [
      mode,
      v,
      round(median(runs[mode]?.[v].map((r) => r.tps) ?? []), 0),
      round(latency(mode, v), 3),
      (runs[mode]?.[v] ?? []).map((r) => round(r.tps, 0)).join(', '),
    ]),
  ),
)}

The EXPLAIN round trip adds about ${MODES.map((mode) => `${extraUs(mode)} µs (${mode})`).join(', ')} per statement here.
`;
}

function gatewayYaml(port: number, backend: TestPostgres): string {
  return postgresBenchGatewayYaml(
    port,
    backend,
    `      - groups: [plain]
        allow: [read]
      - groups: [limited]
        allow: [read]
        maxCost: 1000000
        maxRows: 1000000
`,
  );
}
