import { type ProfileSummary, profileMarkdown } from '../lib/cpuprofile.js';
import type { MachineInfo } from '../lib/machine.js';
import { FOREIGN_CPU_LIMIT, type Measured } from '../lib/measure.js';
import { machineMarkdown, median, ratio, round, table } from '../lib/report.js';
import type { PgbenchResult } from './pgbench.js';

export type PgTargetName = 'direct' | 'pgbouncer' | 'gatehouse';

export interface PgRun extends PgbenchResult {
  /** CPU time of the proxy (pgbouncer or the gateway process) per transaction, in microseconds; NaN when direct. */
  readonly proxyCpuUsPerTransaction: number;
}

export interface PostgresResults {
  readonly machine: MachineInfo;
  readonly loadAfter: readonly number[];
  readonly versions: Record<string, string>;
  readonly settings: { scale: number; seconds: number; warmupSeconds: number; rounds: number };
  /** Keyed by `<mode> c<clients>`. */
  readonly runs: Record<string, Record<PgTargetName, Measured<PgRun>[]>>;
  readonly profile: { readonly tps: number; readonly summary: ProfileSummary };
  readonly commands: readonly string[];
}

interface Row {
  readonly tps: number;
  readonly latencyMs: number;
  readonly cpuUs: number;
  readonly foreign: number;
}

function summarise(list: Measured<PgRun>[]): Row {
  return {
    tps: Math.round(median(list.map((m) => m.result.tps))),
    latencyMs: round(median(list.map((m) => m.result.latencyMs)), 3),
    cpuUs: round(median(list.map((m) => m.result.proxyCpuUsPerTransaction)), 1),
    foreign: round(Math.max(...list.map((m) => m.foreignCpu)), 1),
  };
}

export function postgresMarkdown(results: PostgresResults): string {
  const keys = Object.keys(results.runs);
  const rows = keys.map((key) => {
    const runs = results.runs[key] as Record<PgTargetName, Measured<PgRun>[]>;
    return {
      key,
      direct: summarise(runs.direct),
      pgbouncer: summarise(runs.pgbouncer),
      gatehouse: summarise(runs.gatehouse),
    };
  });
  const atOrAbove = rows.filter((r) => r.gatehouse.tps >= r.pgbouncer.tps).length;
  const foreign = rows.flatMap((r) => [r.direct.foreign, r.pgbouncer.foreign, r.gatehouse.foreign]);
  const us = (ms: number) => Math.round(ms * 1000);

  return `# PostgreSQL benchmark

Target: Gatehouse at or above pgbouncer's throughput. Reached in ${atOrAbove} of ${rows.length} cases; Gatehouse/pgbouncer throughput: ${rows
    .map((r) => `${r.key} **${ratio(r.gatehouse.tps, r.pgbouncer.tps)}x**`)
    .join(', ')}.

${machineMarkdown(results.machine, results.loadAfter, results.versions)}
- Other processes' CPU during each measurement (from /proc: machine busy time minus this benchmark's process tree), % of one core: median ${round(median(foreign), 1)}, max ${round(Math.max(...foreign), 1)}; a measurement above ${FOREIGN_CPU_LIMIT}% is taken again (up to BENCH_ATTEMPTS attempts in all, default 4, 5 s apart) and the quietest kept.

## What is measured

- PostgreSQL ${results.versions.PostgreSQL} started by the bench (test/support/embedded-postgres.ts: a fresh cluster in a temp dir, SCRAM-SHA-256, TCP on loopback), \`pgbench -i -s ${results.settings.scale}\` and \`VACUUM ANALYZE\` directly.
- \`pgbench -S -n -M <mode> -c <clients> -j min(clients,2) -T ${results.settings.seconds}\` (select-only; a ${results.settings.warmupSeconds} s run first each time; -n because the read-only policy refuses pgbench's VACUUM, done once directly instead), the same command for all three targets:
  - **direct**: to PostgreSQL with its password.
  - **pgbouncer**: session pooling, \`auth_type = scram-sha-256\` (auth file with the password, so it answers the client's SCRAM and runs its own to the server). Session rather than transaction pooling: Gatehouse also keeps one backend connection per client session, and pgbouncer ${results.versions.pgbouncer} cannot carry \`-M prepared\` statements in transaction pooling. pgbench opens its connections once, so pooling itself saves nothing here: both proxies relay messages.
  - **gatehouse**: \`node bin/gatehouse.js serve\`, PostgreSQL listener on loopback with \`postgres.allowPlaintextPassword: true\`; PGPASSWORD is a dev-issuer token (verified at login); every statement is parsed with libpg-query and classified, decided by policy (group \`bench\`: read allowed) and recorded in the SQLite audit store before its result is released; the backend session is opened read-only (\`default_transaction_read_only\`).
- ${results.settings.rounds} round(s); medians over rounds. "proxy CPU µs/tx" is the proxy process's CPU time (user + system, from /proc) per transaction: it does not depend on how the 2 cores were shared.

## Results

${table(
  [
    'mode, clients',
    'direct TPS',
    'pgbouncer TPS',
    'gatehouse TPS',
    'direct lat ms',
    'pgbouncer lat ms',
    'gatehouse lat ms',
  ],
  rows.map((r) => [
    r.key,
    r.direct.tps,
    r.pgbouncer.tps,
    r.gatehouse.tps,
    r.direct.latencyMs,
    r.pgbouncer.latencyMs,
    r.gatehouse.latencyMs,
  ]),
)}

${table(
  [
    'mode, clients',
    'pgbouncer / direct',
    'gatehouse / direct',
    'gatehouse / pgbouncer',
    'added latency pgbouncer µs',
    'added latency gatehouse µs',
    'proxy CPU µs/tx pgbouncer',
    'proxy CPU µs/tx gatehouse',
  ],
  rows.map((r) => [
    r.key,
    ratio(r.pgbouncer.tps, r.direct.tps),
    ratio(r.gatehouse.tps, r.direct.tps),
    ratio(r.gatehouse.tps, r.pgbouncer.tps),
    us(r.pgbouncer.latencyMs - r.direct.latencyMs),
    us(r.gatehouse.latencyMs - r.direct.latencyMs),
    r.pgbouncer.cpuUs,
    r.gatehouse.cpuUs,
  ]),
)}

Other processes' CPU (% of a core, worst round) per row: ${rows
    .map((r) => `${r.key}: ${r.direct.foreign} / ${r.pgbouncer.foreign} / ${r.gatehouse.foreign}`)
    .join('; ')} (direct / pgbouncer / gatehouse).

## Where the gateway's time goes

\`node --cpu-prof\` on the gateway process during a separate \`pgbench -S -M extended -c 8\` run (${Math.round(results.profile.tps)} TPS under the profiler), start-up and warm-up excluded. Self time, by module and by function:

${profileMarkdown(results.profile.summary)}

## Commands

Everything is run by \`npm run bench\` (\`bash bench/run.sh\`) or \`bash bench/postgres/run.sh\`; the driver (bench/postgres/bench.ts) ran:

\`\`\`
${results.commands.join('\n')}
\`\`\`

## Caveats

- 2 cores are shared by pgbench, the proxy under test and PostgreSQL (and, for Gatehouse, its SQLite writes). At 8 clients PostgreSQL's backends alone can use both cores, so a proxy's CPU comes straight out of the server's: the ratios are relative to this machine, and a proxy on its own cores would lose less.
- Other engineers' test runs may share this machine; see the "other processes' CPU" figures.
- Loopback only: no network latency, which makes every proxy's added microseconds a larger share than on a real network.
- Gatehouse is started from the working tree (TypeScript through tsx's loader, as \`bin/gatehouse.js\` does); the commit above may not include other engineers' uncommitted changes that were present.
`;
}
