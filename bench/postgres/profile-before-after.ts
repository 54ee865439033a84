// Where a change moved the gateway's CPU: the working tree's build and another commit's build (BENCH_BASELINE_REF),
// each under `node --cpu-prof` for the same `pgbench -S -M <mode> -c 1` run, compared function by function in
// microseconds per transaction (self and total time). A diagnosis tool, not a benchmark: the profiler adds its own
// cost. Tunables: BENCH_BASELINE_REF (required), BENCH_PG_MODE (default extended), BENCH_PG_SECONDS (default 8),
// BENCH_PROFILE_TOP (rows, default 40). Prints to stdout and leaves the .cpuprofile files in a temp dir for DevTools.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { postgresBenchGatewayYaml, READ_ONLY_BENCH_POLICY } from '../../test/support/gateway-config.js';
import { type BaselineBuild, buildBaseline } from '../lib/baseline.js';
import { type GatehouseProcess, mintToken, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { processTreeCpuMs } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { type Background, CommandLog, freePort, run } from '../lib/processes.js';
import { type PgbenchTarget, type QueryMode, runPgbench } from './pgbench.js';
import { type FunctionTimes, functionTimes } from './profile-functions.js';

const BASELINE_REF = process.env.BENCH_BASELINE_REF;
if (!BASELINE_REF) throw new Error('BENCH_BASELINE_REF (a commit) is required');
const MODE = (process.env.BENCH_PG_MODE ?? 'extended') as QueryMode;
const SECONDS = Number(process.env.BENCH_PG_SECONDS ?? 8);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 40);
const WARMUP_SECONDS = 3;

const log = new CommandLog();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-profile-pg-'));
chmodSync(dir, 0o755);
const servers: Background[] = [];
delete process.env.GATEHOUSE_TEST_PG_URL;
let backend: TestPostgres | undefined;
let baseline: BaselineBuild | undefined;

interface Profiled {
  readonly label: string;
  readonly transactions: number;
  readonly cpuUsPerTransaction: number;
  readonly times: FunctionTimes;
}

try {
  progress('starting PostgreSQL');
  backend = await startPostgres();
  log.redact(backend.password, '$PG_PASSWORD');
  const pgBackend = backend;
  await run(
    log,
    'pgbench',
    ['-i', '-s', '10', '-h', pgBackend.host, '-p', String(pgBackend.port), '-U', pgBackend.user, pgBackend.database],
    {
      env: { PGPASSWORD: pgBackend.password },
    },
  );
  progress(`building the baseline gateway at ${BASELINE_REF}`);
  baseline = await buildBaseline(log, BASELINE_REF);
  const env = { BENCH_PG_PASSWORD: pgBackend.password };

  const profileOne = async (label: string, root: string | undefined): Promise<Profiled> => {
    const own = join(dir, label);
    mkdirSync(own);
    const port = await freePort();
    const config = writeGatehouseConfig(own, gatewayYaml(port, pgBackend));
    const token = await mintToken(log, config, 'bench', env);
    const profileDir = join(own, 'profile');
    const spawnedAt = Date.now();
    const gateway: GatehouseProcess = await startGatehouse(log, config, port, {
      env,
      profileDir,
      ...(root ? { root } : {}),
    });
    servers.push(gateway.server);
    const target: PgbenchTarget = { host: '127.0.0.1', port, user: 'bench', database: 'bench', password: token };
    progress(`${label}: pgbench -M ${MODE} -c 1 under the profiler`);
    await runPgbench(log, target, MODE, 1, WARMUP_SECONDS);
    const skipMs = Date.now() - spawnedAt;
    const pid = gateway.server.pid as number;
    const cpuBefore = processTreeCpuMs(pid);
    const threadsBefore = threadTicks(pid);
    // BENCH_PROFILE_STRACE=1: also count the gateway's system calls (all threads) during the run.
    const strace = process.env.BENCH_PROFILE_STRACE
      ? spawn(
          'strace',
          [
            ...(process.env.BENCH_PROFILE_STRACE === 'trace'
              ? ['-tt', '-e', 'trace=epoll_pwait,read,write,writev,sendmsg,recvfrom,pwrite64']
              : ['-c']),
            '-f',
            '-o',
            join(own, 'strace.txt'),
            '-p',
            String(pid),
          ],
          { stdio: 'ignore' },
        )
      : undefined;
    const result = await runPgbench(log, target, MODE, 1, SECONDS);
    const cpuMs = processTreeCpuMs(pid) - cpuBefore;
    const threadsAfter = threadTicks(pid);
    for (const [name, ticks] of threadsAfter) {
      const used = ticks - (threadsBefore.get(name) ?? 0);
      if (used > 0)
        console.log(`${label}: thread ${name}: ${((used * 10_000) / result.transactions).toFixed(1)} µs/tx`);
    }
    if (strace) {
      const exited = new Promise((resolve) => strace.once('exit', resolve));
      strace.kill('SIGINT');
      await exited;
      const calls = readFileSync(join(own, 'strace.txt'), 'utf8');
      // In trace mode: calls per thread and name (the thread's first column), then the last lines as they came.
      const byThread = new Map<string, number>();
      for (const line of calls.split('\n')) {
        const match = /^(\d+)\s+\S+\s+(\w+)\(/.exec(line);
        if (match) byThread.set(`${match[1]} ${match[2]}`, (byThread.get(`${match[1]} ${match[2]}`) ?? 0) + 1);
      }
      const perThread = [...byThread].map(([key, n]) => `${key}: ${(n / result.transactions).toFixed(2)}/tx`);
      console.log(`${label}: system calls over ${result.transactions} tx\n${perThread.join('\n')}`);
      console.log(calls.split('\n').slice(-60).join('\n'));
    }
    await gateway.server.stop();
    const path = gateway.profilePath();
    if (!path) throw new Error(`${label}: no CPU profile written`);
    progress(`${label}: profile ${path}`);
    return {
      label,
      transactions: result.transactions,
      cpuUsPerTransaction: (cpuMs * 1000) / result.transactions,
      times: functionTimes(path, skipMs),
    };
  };

  // BENCH_AB_ROUNDS=N: no profiler; both builds run side by side, N rounds alternating which goes first, and the
  // gateway's CPU per transaction is printed per round with the minimum and median (a quick before/after on a
  // shared machine, where single runs vary by more than the change).
  const abRounds = Number(process.env.BENCH_AB_ROUNDS ?? 0);
  if (abRounds > 0) {
    const start = async (label: string, root: string | undefined) => {
      const own = join(dir, label);
      mkdirSync(own);
      const port = await freePort();
      const config = writeGatehouseConfig(own, gatewayYaml(port, pgBackend));
      const token = await mintToken(log, config, 'bench', env);
      const gateway = await startGatehouse(log, config, port, { env, ...(root ? { root } : {}) });
      servers.push(gateway.server);
      const target: PgbenchTarget = { host: '127.0.0.1', port, user: 'bench', database: 'bench', password: token };
      await runPgbench(log, target, MODE, 1, WARMUP_SECONDS);
      return { label, target, pid: gateway.server.pid as number, cpu: [] as number[], switches: [] as number[] };
    };
    const builds = [await start('after', undefined), await start('before', baseline.root)];
    for (let round = 1; round <= abRounds; round++) {
      for (const build of round % 2 === 1 ? builds : [...builds].reverse()) {
        const cpuBefore = processTreeCpuMs(build.pid);
        const switchesBefore = contextSwitches(build.pid);
        const result = await runPgbench(log, build.target, MODE, 1, SECONDS);
        build.cpu.push(((processTreeCpuMs(build.pid) - cpuBefore) * 1000) / result.transactions);
        build.switches.push((contextSwitches(build.pid) - switchesBefore) / result.transactions);
        progress(
          `round ${round} ${build.label}: ${build.cpu.at(-1)?.toFixed(1)} µs/tx (${Math.round(result.tps)} TPS)`,
        );
      }
    }
    for (const build of builds) {
      const sorted = [...build.cpu].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] as number;
      console.log(
        `${build.label}: CPU µs/tx min ${(sorted[0] as number).toFixed(1)}, median ${median.toFixed(1)} ` +
          `(${build.cpu.map((v) => v.toFixed(0)).join(' ')}); context switches per tx ` +
          build.switches.map((v) => v.toFixed(2)).join(' '),
      );
    }
    process.exitCode = 0;
  } else {
    const after = await profileOne('after', undefined);
    const before = await profileOne('before', baseline.root);
    // Keep the profiles: the temp dir is removed below, so copy them out first.
    const keep = mkdtempSync(join(tmpdir(), 'gatehouse-profile-pg-kept-'));
    await run(log, 'cp', ['-r', join(dir, 'after', 'profile'), join(keep, 'after')]);
    await run(log, 'cp', ['-r', join(dir, 'before', 'profile'), join(keep, 'before')]);
    console.log(`profiles kept in ${keep}`);
    printComparison(before, after);
  }
} finally {
  for (const server of servers.reverse()) await server.stop();
  await backend?.stop();
  await baseline?.dispose();
  rmSync(dir, { recursive: true, force: true });
}

function printComparison(before: Profiled, after: Profiled): void {
  const perTx = (us: number | undefined, p: Profiled) => (us ?? 0) / p.transactions;
  console.log(`mode ${MODE}, 1 client, ${SECONDS} s under the profiler`);
  for (const p of [before, after]) {
    console.log(
      `${p.label}: ${p.transactions} tx, process CPU ${p.cpuUsPerTransaction.toFixed(1)} µs/tx, ` +
        `sampled busy ${perTx(p.times.busyUs, p).toFixed(1)} µs/tx`,
    );
  }
  for (const kind of ['self', 'total'] as const) {
    const names = new Set([...before.times[kind].keys(), ...after.times[kind].keys()]);
    const rows = [...names].map((name) => {
      const b = perTx(before.times[kind].get(name), before);
      const a = perTx(after.times[kind].get(name), after);
      return { name, b, a, d: a - b };
    });
    console.log(`\n${kind} µs/tx: largest differences (after - before)`);
    console.log('    before     after      diff  function');
    rows.sort((x, y) => Math.abs(y.d) - Math.abs(x.d));
    for (const r of rows.slice(0, TOP)) {
      console.log(
        `${r.b.toFixed(2).padStart(9)} ${r.a.toFixed(2).padStart(9)} ${r.d.toFixed(2).padStart(9)}  ${r.name}`,
      );
    }
  }
}

/** Context switches (voluntary and not) of all the process's threads so far. */
function contextSwitches(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    for (const match of status.matchAll(/ctxt_switches:\s+(\d+)/g)) total += Number(match[1]);
  }
  return total;
}

/** CPU ticks (1/100 s) by thread name, from /proc/<pid>/task/<tid>/stat. */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(`${name} ${tid === String(pid) ? 'main' : tid}`, Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

function gatewayYaml(port: number, pgBackend: TestPostgres): string {
  return postgresBenchGatewayYaml(port, pgBackend, READ_ONLY_BENCH_POLICY);
}
