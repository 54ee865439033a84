// PostgreSQL benchmark: pgbench -S (select-only) directly, through pgbouncer and through Gatehouse (token as password,
// verification, classification with the PostgreSQL parser, policy, SQLite audit), 1 and 8 clients, simple, extended and
// prepared protocol; plus a CPU profile of the gateway under pgbench. Writes bench/results/postgres.{md,json}.
// Run by bench/postgres/run.sh (which installs pgbouncer). Tunables: BENCH_PG_ROUNDS, BENCH_PG_SECONDS, BENCH_PG_MODES,
// BENCH_PG_CLIENTS, BENCH_PG_TARGETS (a subset), BENCH_PG_RESULTS (results file name); BENCH_BASELINE_REF
// (a commit) adds that build of the gateway as `gatehouse-before`, measured in the same run.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { postgresBenchGatewayYaml, READ_ONLY_BENCH_POLICY } from '../../test/support/gateway-config.js';
import { type BaselineBuild, buildBaseline } from '../lib/baseline.js';
import { summariseProfile } from '../lib/cpuprofile.js';
import { type GatehouseProcess, mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { loadAverage, machineInfo, processTreeCpuMs } from '../lib/machine.js';
import { type Measured, measureQuietly, progress } from '../lib/measure.js';
import { startTcpRelay } from '../lib/node-relays.js';
import { type Background, CommandLog, freePort, run } from '../lib/processes.js';
import { round, writeResults } from '../lib/report.js';
import { type PgbenchTarget, type QueryMode, runPgbench } from './pgbench.js';
import { startPgbouncer } from './pgbouncer.js';
import { PG_TARGETS, type PgRun, type PgTargetName, type PostgresResults, postgresMarkdown } from './report.js';

const ROUNDS = Number(process.env.BENCH_PG_ROUNDS ?? 1);
const SECONDS = Number(process.env.BENCH_PG_SECONDS ?? 12);
const WARMUP_SECONDS = 3;
const SCALE = 10;
const MODES = (process.env.BENCH_PG_MODES ?? 'simple,extended,prepared').split(',') as QueryMode[];
const CLIENTS = (process.env.BENCH_PG_CLIENTS ?? '1,8').split(',').map(Number);
/** A subset of targets (e.g. `gatehouse,gatehouse-before` for a before/after alone); all by default. */
const ONLY = process.env.BENCH_PG_TARGETS?.split(',');
/** Where the results go: bench/results/<name>.{md,json}. */
const RESULTS_NAME = process.env.BENCH_PG_RESULTS ?? 'postgres';
const BASELINE_REF = process.env.BENCH_BASELINE_REF;

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-pg-'));
chmodSync(dir, 0o755);
const servers: Background[] = [];
// The bench always starts its own server (PostgreSQL 18 from the embedded-postgres package), never CI's.
delete process.env.GATEHOUSE_TEST_PG_URL;
let backend: TestPostgres | undefined;
let baseline: BaselineBuild | undefined;

try {
  progress('starting PostgreSQL, pgbouncer and Gatehouse');
  backend = await startPostgres();
  log.redact(backend.password, '$PG_PASSWORD');
  const direct: PgbenchTarget = { ...backend };
  await run(
    log,
    'pgbench',
    ['-i', '-s', String(SCALE), '-h', direct.host, '-p', String(direct.port), '-U', direct.user, direct.database],
    {
      env: { PGPASSWORD: direct.password },
    },
  );
  const serverVersion = await query(backend.url, 'show server_version');
  await query(backend.url, 'vacuum analyze');

  const bouncerDir = join(dir, 'pgbouncer');
  mkdirSync(bouncerDir);
  const bouncerPort = await freePort();
  const bouncer = await startPgbouncer(log, bouncerDir, bouncerPort, 'bench', backend);
  servers.push(bouncer);

  const relayPort = await freePort();
  const relay = await startTcpRelay(log, relayPort, direct);
  servers.push(relay);

  const gatewayPort = await freePort();
  const config = writeGatehouseConfig(dir, gatewayYaml(gatewayPort, backend));
  const env = { BENCH_PG_PASSWORD: backend.password };
  const token = await mintToken(log, config, 'bench', env);
  let gateway: GatehouseProcess = await startGatehouse(log, config, gatewayPort, { env });
  servers.push(gateway.server);

  const targets: Partial<Record<PgTargetName, PgbenchTarget>> = {
    direct,
    'node-relay': { ...direct, port: relayPort },
    pgbouncer: { ...direct, port: bouncerPort, database: 'bench' },
    gatehouse: { host: '127.0.0.1', port: gatewayPort, user: 'bench', database: 'bench', password: token },
  };
  const proxyPid: Partial<Record<PgTargetName, () => number | undefined>> = {
    direct: () => undefined,
    'node-relay': () => relay.pid,
    pgbouncer: () => bouncer.pid,
    gatehouse: () => gateway.server.pid,
  };
  if (BASELINE_REF) {
    progress(`building the baseline gateway at ${BASELINE_REF}`);
    baseline = await buildBaseline(log, BASELINE_REF);
    const baselineDir = join(dir, 'baseline');
    mkdirSync(baselineDir);
    const baselinePort = await freePort();
    const baselineConfig = writeGatehouseConfig(baselineDir, gatewayYaml(baselinePort, backend));
    const baselineToken = await mintToken(log, baselineConfig, 'bench', env);
    const before = await startGatehouse(log, baselineConfig, baselinePort, { env, root: baseline.root });
    servers.push(before.server);
    targets['gatehouse-before'] = {
      ...(targets.gatehouse as PgbenchTarget),
      port: baselinePort,
      password: baselineToken,
    };
    proxyPid['gatehouse-before'] = () => before.server.pid;
  }
  const names = PG_TARGETS.filter((name) => targets[name] !== undefined && (ONLY === undefined || ONLY.includes(name)));

  const runs: Record<string, Partial<Record<PgTargetName, Measured<PgRun>[]>>> = {};
  for (let pass = 1; pass <= ROUNDS; pass++) {
    for (const clients of CLIENTS) {
      for (const mode of MODES) {
        const key = `${mode} c${clients}`;
        runs[key] ??= {};
        const row: Partial<Record<PgTargetName, Measured<PgRun>[]>> = runs[key];
        for (const name of names) {
          const target = targets[name] as PgbenchTarget;
          progress(`round ${pass}/${ROUNDS}: ${name}, -M ${mode}, ${clients} client(s)`);
          await runPgbench(log, target, mode, clients, WARMUP_SECONDS);
          const measured = await measureQuietly(`${name} ${key}`, async (): Promise<PgRun> => {
            const pid = proxyPid[name]?.();
            const cpuBefore = pid ? processTreeCpuMs(pid) : 0;
            const result = await runPgbench(log, target, mode, clients, SECONDS);
            const cpuMs = pid ? processTreeCpuMs(pid) - cpuBefore : Number.NaN;
            return { ...result, proxyCpuUsPerTransaction: round((cpuMs * 1000) / result.transactions, 1) };
          });
          row[name] = [...(row[name] ?? []), measured];
        }
      }
    }
  }

  progress('profiling the gateway under pgbench -M extended -c 8');
  await gateway.server.stop();
  // Kept after the run (printed below) for a closer look, e.g. in Chrome DevTools.
  const profileDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-profile-pg-'));
  const spawnedAt = Date.now();
  gateway = await startGatehouse(log, config, gatewayPort, { profileDir, env });
  servers.push(gateway.server);
  const gatehouseTarget = targets.gatehouse as PgbenchTarget;
  await runPgbench(log, gatehouseTarget, 'extended', 8, WARMUP_SECONDS);
  const skipMs = Date.now() - spawnedAt;
  const underProfiler = await runPgbench(log, gatehouseTarget, 'extended', 8, SECONDS);
  await gateway.server.stop();
  const profilePath = gateway.profilePath();
  if (!profilePath) throw new Error('the gateway wrote no CPU profile');
  progress(`the gateway's CPU profile: ${profilePath}`);

  const results: PostgresResults = {
    machine,
    loadAfter: loadAverage(),
    versions: await versions(serverVersion),
    settings: { scale: SCALE, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS },
    runs,
    ...(baseline ? { baseline: baseline.commit } : {}),
    profile: { tps: underProfiler.tps, summary: summariseProfile(profilePath, REPO_ROOT, { skipMs }) },
    commands: log.commands,
  };
  writeResults(RESULTS_NAME, results, postgresMarkdown(results));
  progress(`wrote bench/results/${RESULTS_NAME}.md and ${RESULTS_NAME}.json`);
} finally {
  for (const server of servers.reverse()) await server.stop();
  await backend?.stop();
  await baseline?.dispose();
  rmSync(dir, { recursive: true, force: true });
}

function gatewayYaml(port: number, backend: TestPostgres): string {
  return postgresBenchGatewayYaml(port, backend, READ_ONLY_BENCH_POLICY);
}

async function query(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql);
    return String(Object.values(result.rows[0] ?? {})[0] ?? '');
  } finally {
    await client.end();
  }
}

async function versions(server: string): Promise<Record<string, string>> {
  const bouncer = await run(log, 'pgbouncer', ['--version']);
  const pgbench = await run(log, 'pgbench', ['--version']);
  const commit = await run(log, 'git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, allowFailure: true });
  return {
    gatehouse: `0.1.0 (${commit.stdout.trim() || 'unknown commit'}, working tree)`,
    node: process.version,
    PostgreSQL: `${server} (embedded-postgres)`,
    pgbouncer: /PgBouncer (\S+)/.exec(bouncer.stdout)?.[1] ?? 'unknown',
    pgbench: pgbench.stdout.trim().replace(/^pgbench \(PostgreSQL\) /, ''),
  };
}
