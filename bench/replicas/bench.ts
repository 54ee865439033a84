// Replicas benchmark: one gateway on SQLite, one on the PostgreSQL store, two on the PostgreSQL store, in one run:
// pgbench -S (8 clients spread over the replicas) and wrk on the HTTP path (8 connections spread likewise); plus the
// store's own cost per audit event (its PostgreSQL server's CPU, its busy time, commits, and any lock waits), to show
// on a small machine whether the store is the limit. Writes bench/results/replicas.{md,json}.
// Run by bench/replicas/run.sh (which installs wrk). Tunables: BENCH_REPLICAS_SECONDS, BENCH_REPLICAS_WARMUP,
// BENCH_REPLICAS_WRITER_THREAD (1: the PostgreSQL store's chain writer on a thread of its own; default: the gateway's).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { gatewayConfigYaml, postgresTargetYaml } from '../../test/support/gateway-config.js';
import { runWrk, type WrkResult } from '../http/wrk.js';
import { mintToken, startGatehouse } from '../lib/gatehouse.js';
import { loadAverage, machineInfo, postmasterPid, processTreeCpuMs } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { type Background, CommandLog, freePort, run } from '../lib/processes.js';
import { machineMarkdown, ratio, round, table, writeResults } from '../lib/report.js';
import { type PgbenchResult, runPgbench } from '../postgres/pgbench.js';

const SECONDS = Number(process.env.BENCH_REPLICAS_SECONDS ?? 15);
const WARMUP_SECONDS = Number(process.env.BENCH_REPLICAS_WARMUP ?? 3);
const CLIENTS = 8;
const SCALE = 10;
const WRITER_THREAD = process.env.BENCH_REPLICAS_WRITER_THREAD === '1';

type SetupName = 'sqlite-1' | 'postgres-1' | 'postgres-2';
const SETUPS: readonly { name: SetupName; replicas: number; store: 'sqlite' | 'postgres' }[] = [
  { name: 'sqlite-1', replicas: 1, store: 'sqlite' },
  { name: 'postgres-1', replicas: 1, store: 'postgres' },
  { name: 'postgres-2', replicas: 2, store: 'postgres' },
];

/** What the store's PostgreSQL server did for one run, per audit event written. */
interface StoreCost {
  readonly events: number;
  readonly commits: number;
  readonly eventsPerCommit: number;
  /** CPU of the store's server (every process of it), µs per event. */
  readonly cpuUsPerEvent: number;
  /** Time its backends spent executing statements (pg_stat_database.active_time), µs per event. */
  readonly activeUsPerEvent: number;
  /** Samples (every 100 ms) that found a store backend waiting for a lock. */
  readonly lockWaitSamples: number;
  readonly samples: number;
}

interface SetupResult {
  readonly pgbench: { tps: number; latencyMs: number; perReplica: PgbenchResult[]; store?: StoreCost };
  readonly wrk: { requestsPerSecond: number; p99Ms: number; perReplica: WrkResult[]; store?: StoreCost };
  readonly gatewayCpuUsPerTransaction: number;
}

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-replicas-'));
chmodSync(dir, 0o755);
delete process.env.GATEHOUSE_TEST_PG_URL;
const servers: Background[] = [];
let backend: TestPostgres | undefined;
let store: TestPostgres | undefined;
const upstream = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`{"echo":"${req.url?.length ?? 0}"}`);
});

try {
  progress('starting the backend PostgreSQL, the store PostgreSQL (a server of its own) and an HTTP upstream');
  [backend, store] = await Promise.all([startPostgres(), startPostgres()]);
  log.redact(backend.password, '$PG_PASSWORD');
  log.redact(store.password, '$STORE_PASSWORD');
  await run(
    log,
    'pgbench',
    ['-i', '-s', String(SCALE), '-h', backend.host, '-p', String(backend.port), '-U', backend.user, backend.database],
    {
      env: { PGPASSWORD: backend.password },
    },
  );
  upstream.listen(0, '127.0.0.1');
  await new Promise((r) => upstream.once('listening', r));
  const storePid = postmasterPid(store.port);

  const results: Partial<Record<SetupName, SetupResult>> = {};
  for (const setup of SETUPS) {
    progress(`${setup.name}: starting ${setup.replicas} gateway(s)`);
    const database = setup.name.replace('-', '_');
    if (setup.store === 'postgres') await query(store.url, `create database ${database}`);
    const gateways: {
      ports: { pg: number; http: number };
      config: string;
      env: Record<string, string>;
      server: Background;
    }[] = [];
    for (let i = 0; i < setup.replicas; i++) {
      const ports = { pg: await freePort(), http: await freePort() };
      const config = writeConfig(
        `${setup.name}-${i}`,
        ports,
        setup.store === 'postgres' ? storeUrl(store, database) : undefined,
        `r${i + 1}`,
      );
      const env = { BENCH_PG_PASSWORD: backend.password };
      const process_ = await startGatehouse(log, config, ports.pg, { env });
      servers.push(process_.server);
      gateways.push({ ports, config, env, server: process_.server });
    }
    const token = await mintToken(log, gateways[0]!.config, 'bench', gateways[0]!.env);
    const share = (i: number) => Math.floor(CLIENTS / setup.replicas) + (i < CLIENTS % setup.replicas ? 1 : 0);
    const pgTarget = (i: number) => ({
      host: '127.0.0.1',
      port: gateways[i]!.ports.pg,
      user: 'bench',
      database: 'bench',
      password: token,
    });
    const httpUrl = (i: number) => `http://127.0.0.1:${gateways[i]!.ports.http}/echo/items`;

    progress(`${setup.name}: pgbench -S, ${CLIENTS} clients over ${setup.replicas} replica(s)`);
    await Promise.all(gateways.map((_, i) => runPgbench(log, pgTarget(i), 'extended', share(i), WARMUP_SECONDS)));
    const cpuBefore = gateways.reduce((sum, g) => sum + processTreeCpuMs(g.server.pid ?? 0), 0);
    const pgbench = await measureStore(
      setup.store === 'postgres' ? { url: storeUrl(store, database), pid: storePid } : undefined,
      () => Promise.all(gateways.map((_, i) => runPgbench(log, pgTarget(i), 'extended', share(i), SECONDS))),
    );
    const cpuMs = gateways.reduce((sum, g) => sum + processTreeCpuMs(g.server.pid ?? 0), 0) - cpuBefore;
    const transactions = pgbench.value.reduce((sum, r) => sum + r.transactions, 0);

    progress(`${setup.name}: wrk, ${CLIENTS} connections over ${setup.replicas} replica(s)`);
    const settings = (i: number) => ({ threads: 1, connections: share(i), seconds: SECONDS });
    await Promise.all(gateways.map((_, i) => runWrk(log, settings(i), httpUrl(i), token, WARMUP_SECONDS)));
    const wrk = await measureStore(
      setup.store === 'postgres' ? { url: storeUrl(store, database), pid: storePid } : undefined,
      () => Promise.all(gateways.map((_, i) => runWrk(log, settings(i), httpUrl(i), token))),
    );
    for (const g of gateways) await g.server.stop();

    results[setup.name] = {
      pgbench: {
        tps: round(pgbench.value.reduce((sum, r) => sum + r.tps, 0)),
        latencyMs: round(Math.max(...pgbench.value.map((r) => r.latencyMs)), 3),
        perReplica: pgbench.value,
        ...(pgbench.store ? { store: pgbench.store } : {}),
      },
      wrk: {
        requestsPerSecond: round(wrk.value.reduce((sum, r) => sum + r.requestsPerSecond, 0)),
        p99Ms: round(Math.max(...wrk.value.map((r) => r.p99Ms)), 2),
        perReplica: wrk.value,
        ...(wrk.store ? { store: wrk.store } : {}),
      },
      gatewayCpuUsPerTransaction: round((cpuMs * 1000) / Math.max(1, transactions), 1),
    };
  }

  const json = {
    machine,
    loadAfter: loadAverage(),
    settings: {
      seconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      clients: CLIENTS,
      scale: SCALE,
      protocol: 'extended',
      writerThread: WRITER_THREAD,
    },
    results,
    commands: log.commands,
  };
  writeResults('replicas', json, markdown(results as Record<SetupName, SetupResult>));
  progress('wrote bench/results/replicas.md and replicas.json');
} finally {
  for (const server of servers.reverse()) await server.stop();
  upstream.close();
  await backend?.stop();
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** A replica's config; every replica shares the directory, so one dev-issuer key signs the token for all. */
function writeConfig(
  name: string,
  ports: { pg: number; http: number },
  storeUrlText: string | undefined,
  instance: string,
): string {
  const path = join(dir, `${name}.yaml`);
  const yaml = gatewayConfigYaml({
    logLevel: 'warn',
    devIssuer: { keyFile: 'dev-issuer.jwk.json', maxTokenLifetime: '2h' },
    store: storeUrlText
      ? { postgresUrl: storeUrlText, instanceId: instance, writerThread: WRITER_THREAD }
      : { path: `${name}.db` },
    body: `listen:
  postgres: 127.0.0.1:${ports.pg}
  http: 127.0.0.1:${ports.http}
postgres:
  allowPlaintextPassword: true # loopback only
resources:
  - name: bench
    protocol: postgres
${postgresTargetYaml(backend as TestPostgres, 'BENCH_PG_PASSWORD')}    policy:
      - groups: [bench]
        allow: [read]
        deny: [write, ddl, admin]
  - name: echo
    protocol: http
    pathPrefix: /echo
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [bench], allow: [read] }]
`,
  });
  writeFileSync(path, `# Generated by bench/replicas.\n${yaml}`);
  return path;
}

function storeUrl(server: TestPostgres, database: string): string {
  const url = new URL(server.url);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `work` and, for a PostgreSQL store, measures what its server did meanwhile. */
async function measureStore<T>(
  target: { url: string; pid: number | undefined } | undefined,
  work: () => Promise<T>,
): Promise<{ value: T; store?: StoreCost }> {
  if (!target) return { value: await work() };
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    const before = await storeCounters(client, target.pid);
    let samples = 0;
    let lockWaitSamples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await client.query<{ n: string }>(
          "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        samples++;
        if (Number(rows[0]?.n) > 0) lockWaitSamples++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const value = await work();
    sampling = false;
    await sampler;
    const after = await storeCounters(client, target.pid);
    const events = Math.max(1, after.events - before.events);
    const commits = after.commits - before.commits;
    return {
      value,
      store: {
        events,
        commits,
        eventsPerCommit: round(events / Math.max(1, commits), 1),
        cpuUsPerEvent: round(((after.cpuMs - before.cpuMs) * 1000) / events, 1),
        activeUsPerEvent: round(((after.activeMs - before.activeMs) * 1000) / events, 1),
        lockWaitSamples,
        samples,
      },
    };
  } finally {
    await client.end();
  }
}

async function storeCounters(client: pg.Client, pid: number | undefined) {
  // Row ids come from one sequence: its last value counts events without scanning the log.
  const { rows } = await client.query<{ events: string | null; commits: string; active: number | null }>(
    `select (select max(id) from audit_events) as events, xact_commit as commits, active_time as active
     from pg_stat_database where datname = current_database()`,
  );
  const row = rows[0];
  return {
    events: Number(row?.events ?? 0),
    commits: Number(row?.commits ?? 0),
    activeMs: Number(row?.active ?? 0),
    cpuMs: pid ? processTreeCpuMs(pid) : Number.NaN,
  };
}

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function markdown(r: Record<SetupName, SetupResult>): string {
  const storeRow = (name: string, cost: StoreCost | undefined) =>
    cost
      ? [
          name,
          cost.events,
          cost.eventsPerCommit,
          cost.cpuUsPerEvent,
          cost.activeUsPerEvent,
          `${cost.lockWaitSamples}/${cost.samples}`,
        ]
      : [name, '-', '-', '-', '-', '-'];
  return [
    '# Replicas: one gateway on SQLite, one and two on the PostgreSQL store',
    '',
    `pgbench -S (extended protocol) with ${CLIENTS} clients and wrk with ${CLIENTS} connections, spread over the replicas; ${SECONDS} s each after ${WARMUP_SECONDS} s of warm-up. The store is a PostgreSQL server of its own; the backend another.`,
    '',
    table(
      ['setup', 'pgbench tps', 'gateway CPU µs/tx', 'wrk req/s', 'wrk p99 ms'],
      SETUPS.map((s) => [
        s.name,
        r[s.name].pgbench.tps,
        r[s.name].gatewayCpuUsPerTransaction,
        r[s.name].wrk.requestsPerSecond,
        r[s.name].wrk.p99Ms,
      ]),
    ),
    '',
    `- PostgreSQL store, one replica, against SQLite: pgbench ${ratio(r['postgres-1'].pgbench.tps, r['sqlite-1'].pgbench.tps)}x, wrk ${ratio(r['postgres-1'].wrk.requestsPerSecond, r['sqlite-1'].wrk.requestsPerSecond)}x (target 0.8x)`,
    `- Two replicas against one, on the PostgreSQL store: pgbench ${ratio(r['postgres-2'].pgbench.tps, r['postgres-1'].pgbench.tps)}x, wrk ${ratio(r['postgres-2'].wrk.requestsPerSecond, r['postgres-1'].wrk.requestsPerSecond)}x (target 1.6x where the cores allow)`,
    '',
    "## The store's own cost per audit event",
    '',
    table(
      ['run', 'events', 'events per commit', 'store CPU µs/event', 'store busy µs/event', 'lock-wait samples'],
      [
        storeRow('postgres-1 pgbench', r['postgres-1'].pgbench.store),
        storeRow('postgres-1 wrk', r['postgres-1'].wrk.store),
        storeRow('postgres-2 pgbench', r['postgres-2'].pgbench.store),
        storeRow('postgres-2 wrk', r['postgres-2'].wrk.store),
      ],
    ),
    '',
    machineMarkdown(machine, loadAverage(), { node: process.version }),
  ].join('\n');
}
