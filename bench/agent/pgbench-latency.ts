import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommandLog, run } from '../lib/processes.js';
import { type PgbenchTarget, pgbenchArgs, type QueryMode } from '../postgres/pgbench.js';

export interface LatencyRun {
  readonly tps: number;
  readonly transactions: number;
  readonly latencyAvgMs: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
}

/**
 * `pgbench -S` (as bench/postgres/pgbench.ts runs it) with a per-transaction log (-l), sampled, from which the
 * latency percentiles come: pgbench itself reports only the average.
 */
export async function runPgbenchWithLatency(
  log: CommandLog,
  target: PgbenchTarget,
  mode: QueryMode,
  clients: number,
  seconds: number,
  samplingRate: number,
): Promise<LatencyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pgbench-log-'));
  try {
    const args = pgbenchArgs(target, mode, clients, seconds);
    // Options go before the database name, which pgbenchArgs puts last.
    const database = args.pop() as string;
    args.push('-l', `--log-prefix=${join(dir, 'tx')}`, `--sampling-rate=${samplingRate}`, database);
    const { stdout, stderr } = await run(log, 'pgbench', args, { env: { PGPASSWORD: target.password } });
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1]);
    const latencyAvgMs = Number(/^latency average = ([\d.]+) ms/m.exec(stdout)?.[1]);
    if (failed > 0 || !Number.isFinite(tps) || !Number.isFinite(latencyAvgMs))
      throw new Error(`pgbench failed (${failed} failed transactions):\n${stdout}\n${stderr}`);
    const latencies = readLatenciesUs(dir);
    if (latencies.length === 0) throw new Error('pgbench wrote no transaction log');
    return {
      tps,
      transactions: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0),
      latencyAvgMs,
      latencyP50Ms: percentile(latencies, 0.5) / 1000,
      latencyP99Ms: percentile(latencies, 0.99) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per-transaction log lines: `client_id transaction_no time_us script_no epoch_s epoch_us` (one file per thread). */
function readLatenciesUs(dir: string): Float64Array {
  const values: number[] = [];
  for (const file of readdirSync(dir))
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const latency = Number(line.split(' ')[2]);
      if (line !== '' && Number.isFinite(latency)) values.push(latency);
    }
  return Float64Array.from(values).sort();
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** `pgbench -S` for a fixed number of transactions per client (-t instead of -T); returns how many ran. */
export async function runPgbenchTransactions(
  log: CommandLog,
  target: PgbenchTarget,
  mode: QueryMode,
  clients: number,
  perClient: number,
): Promise<number> {
  const args = pgbenchArgs(target, mode, clients, 1);
  args.splice(args.indexOf('-T'), 2, '-t', String(perClient));
  const { stdout, stderr } = await run(log, 'pgbench', args, { env: { PGPASSWORD: target.password } });
  const done = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0);
  if (done !== clients * perClient)
    throw new Error(`pgbench ran ${done} of ${clients * perClient}:\n${stdout}\n${stderr}`);
  return done;
}
