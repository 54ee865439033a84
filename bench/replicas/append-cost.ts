// The PostgreSQL store's append path on its own: CPU per audit event on the gateway's side (its main thread, and the
// whole process, writer thread included) and on the store's (the chain writer's backend, and the whole server),
// with the real AuditRecorder, ChainWriter and SessionIndexer, and pgbench-like records (an operation with its
// result folded in) from CLIENTS callers that each wait for their record, as sessions do. CPU per event is meaningful
// on a busy machine, unlike throughput. Writes bench/results/store-append.{md,json}.
// Tunables: BENCH_APPEND_SECONDS (default 5), BENCH_APPEND_CLIENTS (8), BENCH_APPEND_ROUNDS (3), BENCH_APPEND_THREAD
// (1: the chain writer on its own thread, `store.postgres.writerThread: true`; default 0: on the main thread).
// A quick check that it runs: BENCH_APPEND_SECONDS=1 BENCH_APPEND_ROUNDS=1 node --import tsx bench/replicas/append-cost.ts
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import pino from 'pino';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { SessionIndexer } from '../../src/audit/session-indexer.js';
import type { AuditEventInput } from '../../src/core/audit-event.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres } from '../../test/support/embedded-postgres.js';
import { loadAverage, machineInfo, postmasterPid, processTreeCpuMs } from '../lib/machine.js';
import { progress } from '../lib/measure.js';
import { machineMarkdown, median, round, table, writeResults } from '../lib/report.js';

const SECONDS = Number(process.env.BENCH_APPEND_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_APPEND_CLIENTS ?? 8);
const ROUNDS = Number(process.env.BENCH_APPEND_ROUNDS ?? 3);
const THREAD = process.env.BENCH_APPEND_THREAD === '1';
const TICKS_PER_SECOND = 100;

interface Round {
  readonly events: number;
  readonly eventsPerWrite: number;
  readonly eventsPerSecond: number;
  readonly mainThreadUs: number;
  readonly processUs: number;
  /** The busiest thread besides the main one: the chain writer's, when it has one. */
  readonly busiestOtherThreadUs: number;
  readonly writerBackendUs: number;
  readonly storeServerUs: number;
}

/** user + system CPU of one thread or process from /proc, in ms (10 ms ticks). */
function statCpuMs(path: string): number {
  const text = readFileSync(path, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU ms of each of this process's threads, by thread id. */
function threadCpuMs(): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      cpu.set(tid, statCpuMs(`/proc/self/task/${tid}/stat`));
    } catch {
      // ended meanwhile
    }
  }
  return cpu;
}

/** A pgbench -S statement's record with its result folded in, as session.ts and the relay build it. */
function operationRecord(sessionId: string, seq: number): AuditEventInput {
  const aid = 1 + Math.floor(Math.random() * 1_000_000);
  return {
    sessionId,
    type: 'operation',
    at: Date.now(),
    payload: {
      seq,
      resource: 'bench',
      protocol: 'postgres',
      kind: 'read',
      tags: [],
      action: 'select',
      text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`,
      verdict: 'allow',
      reason: 'policy.allowed',
      rule: 'bench#0',
      selector: 'groups: bench',
      result: { status: 'ok', rows: 1, bytes: 38, durationMs: 0.21, masked: 0 },
    },
  };
}

const store = await startPostgres();
const silent = pino({ level: 'silent' });
const rounds: Round[] = [];
try {
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    const database = `append_${round_}`;
    const admin = new pg.Client({ connectionString: store.url });
    await admin.connect();
    await admin.query(`create database ${database}`);
    const url = new URL(store.url);
    url.pathname = `/${database}`;
    const chain = `bench-${round_}`;
    const s = await PostgresStore.open(url.toString(), { chain });
    await s.migrate();
    await s.claimChain({ thread: THREAD });
    const recorder = new AuditRecorder(s, { logger: silent });
    const indexer = new SessionIndexer(s, { intervalMs: 250, logger: silent });
    indexer.start();
    const sessions = Array.from({ length: CLIENTS }, (_, i) => `session-${round_}-${i}`);
    for (const id of sessions) {
      await recorder.record({
        sessionId: id,
        type: 'session.start',
        at: Date.now(),
        payload: {
          protocol: 'postgres',
          resource: 'bench',
          issuer: 'bench',
          subject: id,
          groups: ['bench'],
          tokenId: id,
        },
      });
    }
    // Warm-up: JIT, the statement's plan, the table's first pages.
    const drive = async (ms: number) => {
      const until = performance.now() + ms;
      await Promise.all(
        sessions.map(async (id) => {
          for (let seq = 1; performance.now() < until; seq++) await recorder.record(operationRecord(id, seq));
        }),
      );
    };
    await drive(1000);
    const { rows } = await admin.query<{ pid: number }>(
      'select pid from pg_stat_activity where application_name = $1 and datname = $2',
      [`gatehouse ${chain}`, database],
    );
    const writerPid = rows[0]?.pid;
    const serverPid = postmasterPid(store.port);
    const before = {
      counts: { ...recorder.counts },
      main: statCpuMs(`/proc/self/task/${process.pid}/stat`),
      process: process.cpuUsage(),
      threads: threadCpuMs(),
      writer: writerPid ? statCpuMs(`/proc/${writerPid}/stat`) : Number.NaN,
      server: serverPid ? processTreeCpuMs(serverPid) : Number.NaN,
      at: performance.now(),
    };
    await drive(SECONDS * 1000);
    const cpu = process.cpuUsage(before.process);
    const threadsAfter = threadCpuMs();
    let busiestOther = 0;
    for (const [tid, ms] of threadsAfter) {
      if (tid !== String(process.pid)) busiestOther = Math.max(busiestOther, ms - (before.threads.get(tid) ?? 0));
    }
    const events = recorder.counts.events - before.counts.events;
    const writes = recorder.counts.writes - before.counts.writes;
    const per = (ms: number) => round((ms * 1000) / events, 1);
    rounds.push({
      events,
      eventsPerWrite: round(events / writes, 1),
      eventsPerSecond: round((events * 1000) / (performance.now() - before.at), 0),
      mainThreadUs: per(statCpuMs(`/proc/self/task/${process.pid}/stat`) - before.main),
      processUs: per((cpu.user + cpu.system) / 1000),
      busiestOtherThreadUs: per(busiestOther),
      writerBackendUs: writerPid ? per(statCpuMs(`/proc/${writerPid}/stat`) - before.writer) : Number.NaN,
      storeServerUs: serverPid ? per(processTreeCpuMs(serverPid) - before.server) : Number.NaN,
    });
    progress(`round ${round_}: ${JSON.stringify(rounds.at(-1))}`);
    indexer.stop();
    await recorder.close();
    await s.close();
    await admin.query(`drop database ${database} with (force)`);
    await admin.end();
  }
} finally {
  await store.stop();
}

const medianOf = (key: keyof Round) => round(median(rounds.map((r) => r[key])), 1);
const summary = {
  eventsPerWrite: medianOf('eventsPerWrite'),
  eventsPerSecond: medianOf('eventsPerSecond'),
  mainThreadUs: medianOf('mainThreadUs'),
  processUs: medianOf('processUs'),
  busiestOtherThreadUs: medianOf('busiestOtherThreadUs'),
  writerBackendUs: medianOf('writerBackendUs'),
  storeServerUs: medianOf('storeServerUs'),
};
const machine = machineInfo();
writeResults(
  'store-append',
  { machine, settings: { seconds: SECONDS, clients: CLIENTS, rounds: ROUNDS, writerThread: THREAD }, rounds, summary },
  [
    '# The PostgreSQL store append path: CPU per audit event',
    '',
    `bench/replicas/append-cost.ts: ${CLIENTS} callers each recording a pgbench -S record (result folded in) and waiting for it, through the AuditRecorder into a claimed chain (writer ${THREAD ? 'on its own thread' : 'on the main thread'}), with the session indexer running; ${ROUNDS} rounds of ${SECONDS} s (medians). CPU from /proc, in µs per event.`,
    '',
    table(
      [
        'events/write',
        'events/s',
        'gateway main thread',
        'gateway process',
        'busiest other thread',
        'writer backend',
        'store server',
      ],
      [
        [
          summary.eventsPerWrite,
          summary.eventsPerSecond,
          summary.mainThreadUs,
          summary.processUs,
          summary.busiestOtherThreadUs,
          summary.writerBackendUs,
          summary.storeServerUs,
        ],
      ],
    ),
    '',
    machineMarkdown(machine, loadAverage(), { node: process.version }),
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
