import { type CommandLog, run } from '../lib/processes.js';

export type QueryMode = 'simple' | 'extended' | 'prepared';

export interface PgbenchTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
}

export interface PgbenchResult {
  readonly tps: number;
  readonly latencyMs: number;
  readonly transactions: number;
}

/**
 * pgbench's built-in scripts: `select-only` (-S: one SELECT per transaction) and `tpcb` (its default, TPC-B-like:
 * BEGIN, three UPDATEs, a SELECT, an INSERT and END per transaction).
 */
export type PgbenchScript = 'select-only' | 'tpcb';

/**
 * `pgbench -S` (select-only) unless told otherwise, no vacuum (-n: the gateway's read-only policy would refuse it;
 * done once directly).
 */
export function pgbenchArgs(
  target: PgbenchTarget,
  mode: QueryMode,
  clients: number,
  seconds: number,
  script: PgbenchScript = 'select-only',
): string[] {
  return [
    '-h',
    target.host,
    '-p',
    String(target.port),
    '-U',
    target.user,
    ...(script === 'select-only' ? ['-S'] : []),
    '-n',
    '-M',
    mode,
    '-c',
    String(clients),
    '-j',
    String(Math.min(clients, 2)),
    '-T',
    String(seconds),
    target.database,
  ];
}

export async function runPgbench(
  log: CommandLog,
  target: PgbenchTarget,
  mode: QueryMode,
  clients: number,
  seconds: number,
  script: PgbenchScript = 'select-only',
): Promise<PgbenchResult> {
  const { stdout, stderr } = await run(log, 'pgbench', pgbenchArgs(target, mode, clients, seconds, script), {
    env: { PGPASSWORD: target.password },
  });
  return parsePgbench(stdout, stderr);
}

/** One client running a custom script `transactions` times (simple protocol): pgbench reads every row with libpq. */
export async function runPgbenchScript(
  log: CommandLog,
  target: PgbenchTarget,
  script: string,
  transactions: number,
): Promise<PgbenchResult> {
  const args = ['-h', target.host, '-p', String(target.port), '-U', target.user, '-n', '-c', '1'];
  args.push('-t', String(transactions), '-f', script, target.database);
  const { stdout, stderr } = await run(log, 'pgbench', args, { env: { PGPASSWORD: target.password } });
  return parsePgbench(stdout, stderr);
}

function parsePgbench(stdout: string, stderr: string): PgbenchResult {
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1]);
  const latencyMs = Number(/^latency average = ([\d.]+) ms/m.exec(stdout)?.[1]);
  if (failed > 0 || !Number.isFinite(tps) || !Number.isFinite(latencyMs)) {
    throw new Error(`pgbench failed (${failed} failed transactions):\n${stdout}\n${stderr}`);
  }
  return {
    tps,
    latencyMs,
    transactions: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0),
  };
}
