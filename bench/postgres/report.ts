import { type ProfileSummary, profileMarkdown } from '../lib/cpuprofile.js';
import type { MachineInfo } from '../lib/machine.js';
import { FOREIGN_CPU_LIMIT, type Measured } from '../lib/measure.js';
import { machineMarkdown, median, ratio, round, table } from '../lib/report.js';
import type { PgbenchResult } from './pgbench.js';

export type PgTargetName = 'direct' | 'node-relay' | 'pgbouncer' | 'gatehouse' | 'gatehouse-before';
/** Column order; `gatehouse-before` is present only when BENCH_BASELINE_REF names a commit to compare with. */
export const PG_TARGETS: readonly PgTargetName[] = [
  'direct',
  'node-relay',
  'pgbouncer',
  'gatehouse',
  'gatehouse-before',
];
const PROXIES = PG_TARGETS.filter((name) => name !== 'direct');

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
  readonly runs: Record<string, Partial<Record<PgTargetName, Measured<PgRun>[]>>>;
  /** The commit measured as `gatehouse-before` (BENCH_BASELINE_REF), when one was. */
  readonly baseline?: string;
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
    const runs = results.runs[key] ?? {};
    const row: Partial<Record<PgTargetName, Row>> = {};
    for (const name of PG_TARGETS) {
      const list = runs[name];
      if (list && list.length > 0) row[name] = summarise(list);
    }
    return { key, ...row } as { key: string } & Partial<Record<PgTargetName, Row>>;
  });
  const present = PG_TARGETS.filter((name) => rows.some((r) => r[name] !== undefined));
  const proxies = PROXIES.filter((name) => present.includes(name));
  const cell = (row: Row | undefined, pick: (r: Row) => number) => (row === undefined ? '-' : pick(row));
  const pairs: [PgTargetName, PgTargetName][] = [
    ...proxies.map((name): [PgTargetName, PgTargetName] => [name, 'direct']),
    ...(['pgbouncer', 'node-relay', 'gatehouse-before'] as const)
      .filter((name) => present.includes(name))
      .map((name): [PgTargetName, PgTargetName] => ['gatehouse', name]),
  ];
  // A subset of targets (BENCH_PG_TARGETS) may leave pgbouncer or direct out: their comparisons are then left out.
  const compared = rows.flatMap((r) =>
    r.gatehouse !== undefined && r.pgbouncer !== undefined
      ? [{ key: r.key, gatehouse: r.gatehouse, pgbouncer: r.pgbouncer }]
      : [],
  );
  const atOrAbove = compared.filter((r) => r.gatehouse.tps >= r.pgbouncer.tps).length;
  const foreign = rows.flatMap((r) => present.flatMap((name) => (r[name] ? [r[name].foreign] : [])));
  const us = (ms: number) => Math.round(ms * 1000);

  return `# PostgreSQL benchmark

Target: Gatehouse at or above pgbouncer's throughput. ${
    compared.length === 0
      ? 'Not measured in this run (pgbouncer or Gatehouse left out).'
      : `Reached in ${atOrAbove} of ${compared.length} cases; Gatehouse/pgbouncer throughput: ${compared
          .map((r) => `${r.key} **${ratio(r.gatehouse.tps, r.pgbouncer.tps)}x**`)
          .join(', ')}.`
  }

${machineMarkdown(results.machine, results.loadAfter, results.versions)}
- Other processes' CPU during each measurement (from /proc: machine busy time minus this benchmark's process tree), % of one core: median ${round(median(foreign), 1)}, max ${round(Math.max(...foreign), 1)}; a measurement above ${FOREIGN_CPU_LIMIT}% is taken again (up to BENCH_ATTEMPTS attempts in all, default 4, 5 s apart) and the quietest kept.

## What is measured

- PostgreSQL ${results.versions.PostgreSQL} started by the bench (test/support/embedded-postgres.ts: a fresh cluster in a temp dir, SCRAM-SHA-256, TCP on loopback), \`pgbench -i -s ${results.settings.scale}\` and \`VACUUM ANALYZE\` directly.
- \`pgbench -S -n -M <mode> -c <clients> -j min(clients,2) -T ${results.settings.seconds}\` (select-only; a ${results.settings.warmupSeconds} s run first each time; -n because the read-only policy refuses pgbench's VACUUM, done once directly instead), the same command for every target:
  - **direct**: to PostgreSQL with its password.
  - **node-relay**: a bare Node TCP relay (bench/lib/tcp-relay.mjs: pipe both ways, nothing parsed): the Node floor for any proxy written in Node.
  - **pgbouncer**: session pooling, \`auth_type = scram-sha-256\` (auth file with the password, so it answers the client's SCRAM and runs its own to the server). Session rather than transaction pooling: Gatehouse also keeps one backend connection per client session, and pgbouncer ${results.versions.pgbouncer} cannot carry \`-M prepared\` statements in transaction pooling. pgbench opens its connections once, so pooling itself saves nothing here: both proxies relay messages.
  - **gatehouse**: \`node bin/gatehouse.js serve\`, PostgreSQL listener on loopback with \`postgres.allowPlaintextPassword: true\`; PGPASSWORD is a dev-issuer token (verified at login); every statement is parsed with libpg-query and classified, decided by policy (group \`bench\`: read allowed) and recorded in the SQLite audit store before its result is released; the backend session is opened read-only (\`default_transaction_read_only\`).
${results.baseline ? `  - **gatehouse-before**: the same gateway built from commit ${results.baseline} (BENCH_BASELINE_REF) in a temporary worktree, with its own SQLite store, measured in the same run: before and after a change.\n` : ''}- ${results.settings.rounds} round(s); medians over rounds. "proxy CPU µs/tx" is the proxy process's CPU time (user + system, from /proc) per transaction: it does not depend on how the 2 cores were shared.

## Results

${table(
  ['mode, clients', ...present.map((name) => `${name} TPS`), ...present.map((name) => `${name} lat ms`)],
  rows.map((r) => [
    r.key,
    ...present.map((name) => cell(r[name], (x) => x.tps)),
    ...present.map((name) => cell(r[name], (x) => x.latencyMs)),
  ]),
)}

${table(
  [
    'mode, clients',
    ...pairs.map(([a, b]) => `${a} / ${b}`),
    ...proxies.map((name) => `added latency ${name} µs`),
    ...proxies.map((name) => `proxy CPU µs/tx ${name}`),
  ],
  rows.map((r) => [
    r.key,
    ...pairs.map(([a, b]) => (r[a] && r[b] ? ratio(r[a].tps, r[b].tps) : '-')),
    ...proxies.map((name) => (r.direct ? cell(r[name], (x) => us(x.latencyMs - (r.direct as Row).latencyMs)) : '-')),
    ...proxies.map((name) => cell(r[name], (x) => x.cpuUs)),
  ]),
)}

Other processes' CPU (% of a core, worst round) per row: ${rows
    .map((r) => `${r.key}: ${present.map((name) => cell(r[name], (x) => x.foreign)).join(' / ')}`)
    .join('; ')} (${present.join(' / ')}).

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
