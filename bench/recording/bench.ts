// Cost of session recording: pgbench -S through Gatehouse gateways, each in a process of its own
// (gateway-process.ts), with recording on (the real
// AuditRecorder, group commit into the SQLite store's spool, drained into the log by its thread; the default
// `audit.overlapReads`, where a plain SELECT runs while its record is written and its rows wait until it is durable),
// recording on without the spool (`store.sqlite.spool: false`: every group commit is a SQLite commit on the gateway's
// thread), recording on in strict mode (`overlapReads: false`: every statement waits for its record before it runs)
// and off, in one run, alternating so all see the same machine load. Besides throughput, the gateway process's own CPU time per transaction (user + system, every thread of the
// process; pgbench and PostgreSQL are other processes) is reported: it is what recording costs whatever else the
// machine runs. Writes bench/results/recording.*
//
// BENCH-ONLY SWITCH: "recording off" replaces the gateway's AuditRecorder.record with an immediately resolved promise
// on that instance, in gateway-process.ts and nowhere in src/. Nothing else differs: same code, same config, same
// backend.
// Tunables: BENCH_REC_ROUNDS (default 3), BENCH_REC_SECONDS (default 10).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startPostgres, type TestPostgres } from '../../test/support/embedded-postgres.js';
import { gatewayConfigYaml, postgresTargetYaml } from '../../test/support/gateway-config.js';
import { REPO_ROOT } from '../lib/gatehouse.js';
import { loadAverage, machineInfo, processTreeCpuMs } from '../lib/machine.js';
import { measureQuietly, progress } from '../lib/measure.js';
import { type Background, CommandLog, freePort, run, startBackground, waitForPort } from '../lib/processes.js';
import { machineMarkdown, median, round, table, writeResults } from '../lib/report.js';
import { type PgbenchScript, type PgbenchTarget, type QueryMode, runPgbench } from '../postgres/pgbench.js';

const ROUNDS = Number(process.env.BENCH_REC_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_REC_SECONDS ?? 10);
const SCALE = 10;
const WARM_UP_SECONDS = Number(process.env.BENCH_REC_WARMUP_SECONDS ?? 5);
interface Case {
  readonly script: PgbenchScript;
  readonly mode: QueryMode;
  readonly clients: number;
}
const CASES: readonly Case[] = [
  { script: 'select-only', mode: 'simple', clients: 1 },
  { script: 'select-only', mode: 'simple', clients: 8 },
  { script: 'select-only', mode: 'prepared', clients: 8 },
  // Writes: each waits for its record unless it runs inside a transaction block (audit.overlapTransactionWrites).
  { script: 'tpcb', mode: 'simple', clients: 1 },
  { script: 'tpcb', mode: 'prepared', clients: 8 },
];

/** What profiles of this benchmark showed (2026-11-30); kept with the figures it explains. */
const WHERE_THE_TIME_GOES = [
  '## Where the time goes',
  '',
  'A statement writes its operation record before its rows go out, and its result after, or together with the',
  "record when the result came in first. Since 2026-12-01 the spool thread also folds a result into its operation's",
  'row when a drain moves both (see the table above: a statement is then one row whatever the client count), and new',
  'SQLite files have 16 KiB pages. Paired runs against the code before each change, select-only (8 clients',
  'prepared; 1 client simple), 10-12 rounds: 16 KiB pages 1.049x tps, 2.8 µs less CPU per transaction (8 clients);',
  'folding 1.026x and 5.7 µs less (1 client), 1.0x and no change beyond noise (8 clients), rows per statement 1.62',
  "to 1.00. Holding a read's record back from other sessions' writes until its result joined it (1.39 to 1.12 events",
  "per statement) cost the gateway's thread 8.4 µs more per transaction (more, smaller writes, each answer waiting",
  'for one after its result) and was dropped.',
  '',
  "With the spool (on), the gateway's thread serialises each payload to JSON (2.5 µs an event hot, more in place) and",
  "appends each batch to the spool with one `write`. The rest runs on the spool's thread: reading and decoding the",
  'spool, chaining (JSON header and sha256), inserting, indexing sessions, one commit per 100 ms. A micro-benchmark of',
  'whole drains (spool file to log, 700 events a drain in frames of 3, one thread) spends about 11 µs of CPU an',
  "event while the drain's connection fills its page cache (16 MB, better-sqlite3's default: fresh memory, a page",
  'fault per 4 KiB), and 6-7 µs once it is full (after some 30,000 events of these). Measured while filling: chaining',
  '2.2, inserting 2.5, the session index 1.3, the commit 1-1.5 (a checkpoint every 4 MiB adds time waiting in fsync,',
  'little CPU), reading and decoding 0.5 (1.1 before 2026-12-01: a fresh read buffer per drain and a string per',
  'line), garbage collection about 0.7. Since 2026-12-01 the drain inserts without a statement journal (`insert or',
  'rollback`: SQLite no longer copies each page an insert touches, in case that one statement must be undone): 0.6-1.9',
  'µs less an event in 6 of 7 alternating pairs once the cache was full. A smaller cache made no difference then.',
  '',
  'Where the cost lies (2026-12-01, 8 paired rounds, select-only, 8 clients prepared, bench-only switches in a',
  'scratch harness, gateway CPU per transaction against off): the recorder with a store that does nothing (records',
  'queued, batched, resolved) -3.3 µs and 1.09x tps (4 rounds); serialised and framed but not written -2.4 µs and',
  "1.09x; written to the spool but never drained +7 µs (the gateway's thread +9) and 1.02x; on, drained, +27.6 µs (the",
  "gateway's thread +13, the spool thread +17) and 0.93x. So with 8 clients what costs throughput is the drain: its",
  "own CPU, and about 4-10 µs more on the gateway's thread while it runs (shared caches; the two cores are busy).",
  "With 1 client the gateway's thread pays more for each event (+40 µs serialised and framed, +72 µs on, in noisier",
  'runs): it sleeps between statements, so each runs on cold caches. With the database and its spool on tmpfs',
  '(/dev/shm) the cost was the same (0.843x against 0.836x, 6 rounds): disk I/O is not where it goes. The spool',
  'thread at nice 10 changed nothing either (0.882x against 0.877x, 10 rounds).',
  '',
  'Also measured (2026-12-01, scratch harness): the drain in a process of its own rather than a thread changed',
  "nothing (select-only, 8 clients, 6 rounds: 4470 against 4659 tps simple, 5299 against 5306 prepared, the gateway's",
  'thread still 20-30 µs per transaction above off): sharing the address space is not what slows that thread. TPC-B,',
  '8 clients: pgbench -r put every statement 15-20% slower with recording (COMMIT 2.2 to 2.9 ms, the branches UPDATE',
  "1.5 to 1.9 ms), not only COMMIT: the cost is CPU, not row locks held longer. perf of the gateway's thread there:",
  "recording's own code about 71 µs a transaction (14 events: JSON.stringify about 38, the spool `write` about 30 at",
  '1.2 writes a transaction, some 40% of it ext4 allocating page-cache pages for the appended bytes, framing about',
  '16); the rest of the 195-237 µs added is the same relay code running slower while the drain runs (in select-only, 8',
  'clients simple, the statement classifier took 37% longer per transaction).',
  '',
  'By parts again, with both client counts (2026-12-01, later; select-only, 8-10 paired rounds of 4 s, bench-only',
  'switches in a scratch harness; tps against off). 8 clients prepared: on 0.847, written to the spool but never',
  'drained 0.959, serialised and framed but neither written nor drained 0.953; a second run: on 0.814, never drained',
  '0.907, drained without the session index catch-up and with a constant in place of sha256 0.849 (those two are a',
  "third of the spool thread's 15 µs a transaction here). 1 client simple: on 0.835, never drained 0.895, serialised",
  'and framed only 0.913. So with 8 clients the drain is nearly all of the cost, in proportion to its CPU (about a',
  "point of tps per 1.5 µs of the spool thread's per transaction), and the spool `write` costs nothing measurable.",
  "With 1 client the gateway thread's own part is about 9 points: timed in place (1 client, 2 events and 1 write a",
  'transaction), the two `record` calls take 4.9 µs, serialising 8.5, framing 5.9 and the `write` 9.1, two to three',
  'times their cost with 8 clients, on cold caches; the write runs while PostgreSQL executes the statement. Tried and',
  "dropped: writing a lone session's batch in a microtask rather than after the event loop's poll phase (0.75",
  'against 0.82: the write then ran before the statement was forwarded); one event-loop turn rather than two after a',
  "batch holding one session's result and next operation (0.876 against 0.878); no deferral timer at all (a",
  "measurement only: no change); V8's young generation at 16 MB (`--min-semi-space-size=16`) helped on and off",
  'alike.',
  '',
  'This machine is a 2-vCPU virtual machine where system calls and wake-ups are dear: perf puts most of the',
  "gateway's own CPU in the kernel (socket writes, which on loopback run PostgreSQL's and pgbench's receive path too,",
  'and interrupt-enable points after sleeps), so each `write`, `pwrite` and wake-up recording adds counts for more',
  "than its JavaScript. pgbench, PostgreSQL and the gateway compete for the two cores (the spool thread's drains land",
  'while PostgreSQL or pgbench want a core), so total CPU per transaction is what counts; the figures move by several',
  'percent from run to run ("off" itself by up to 15% between rounds, and paired ratios of one code against itself',
  'from 0.7 to 1.35 in one spell: see the JSON).',
  '',
  'TPC-B: a transaction is seven statements, each with its own record and result. With 1 client each statement is',
  'a batch of its own, as with -S, on the critical path. With 8 clients every COMMIT waits for its record, which is',
  "written at once and takes along other sessions' records whose results are not in yet.",
  '',
  'What is left, and why it does not reach the target here: rows that each hold a batch of events, chained event by',
  'event inside (an insert, an index entry and page space per batch rather than per event), measured at its best',
  '(2026-12-01, later: a scratch copy whose drain wrote each batch as one row, its payloads in one JSON array,',
  'chained event by event, with one index entry; 8 paired rounds of 4 s, tps against off): select-only 0.907x',
  'against 0.848x on with 8 clients prepared, 0.888x against 0.849x with 1 client simple; TPC-B 0.889x against',
  '0.853x with 8 clients prepared, 0.94x against 0.917x with 1 client. 2-6 points, which leaves 6-11 % on this',
  'machine, and costs a row per batch in the log (verify, replay, export, retention and the session index would',
  'read events out of rows): not made. The earlier estimate, with a bench-only switch that drains, decodes and',
  'chains but inserts, indexes and commits nothing, read 0.917x against 0.867x on (8 clients prepared). Fewer bytes',
  'are not it, on either thread: operation records without the resource, protocol, rule, selector and reason (about',
  '100 of 360 bytes, as much as storing the two hashes as 32-byte blobs rather than hex text would save a row)',
  'changed nothing (0.863 against 0.855 of off with 1 client, 0.842 against 0.852 with 8 prepared, 8 paired rounds).',
];

/** Figures behind choices in src/ whose comments point here (measured in scratch harnesses, not by this script). */
const MEASURED_FOR_CHOICES = [
  '## Measured for choices in the code',
  '',
  "Figures behind choices the code's comments name (2-vCPU machines of this project, paired runs where a change was",
  'compared with the code before it):',
  '',
  "- `src/audit/recorder.ts` `amend`: the queued payload is changed in place. Copying it with the fields added (a read's",
  "  payload has some 15) cost 3-7% more of the gateway's CPU per transaction with 8 pgbench clients.",
  '- `src/audit/recorder.ts`: one more event-loop turn before a write when the last batch had company: a third fewer',
  '  commits with 8 pgbench clients.',
  "- `src/session/session.ts`: only the optional fields that are set go into an operation's payload: JSON.stringify of",
  "  a pgbench read's record took 2.5 µs instead of 4.2.",
  '- `src/store/sqlite/sqlite-store.ts`: 16 KiB pages for new files: a third of the WAL writes per event and about 12%',
  "  less of the spool thread's CPU per event (drains of 900 events, WAL checkpointed every 4 MiB either way: 7.2-7.6",
  '  against 8.3-8.5 µs).',
  '- `src/store/sqlite/append-transaction.ts`: `insert or rollback` (no statement journal): 0.6-1.9 µs less of a',
  "  drain's 6-8.5 µs per event once its page cache is full, more while it fills.",
  '- `src/store/sqlite/spool-format.ts`: a spool body cut by indexOf rather than split and slice: 0.61 to 0.46 µs an',
  '  event.',
  "- `src/store/hash-chain.ts`: building the link header as an array for JSON.stringify was the chain's largest",
  '  JavaScript cost; the three JSON.stringify calls for its strings were over half the cost of chaining an event,',
  "  about a fifth of the spool thread's per event; one-shot `crypto.hash` costs half a Hash object per event.",
  '- `src/store/session-event-index.ts`: a catch-up blocks appends for about 2.5 µs an event, so its 5,000-event cap',
  '  bounds the pause near 12 ms.',
  "- `src/store/sqlite/spool-thread.ts`: loading tsx inside the spool's worker thread took about 1 s (2 s of CPU) per",
  '  start; with the esbuild bundle (built once per process) the thread starts in about 60 ms.',
  '',
];

const SCRIPTS: readonly PgbenchScript[] = ['select-only', 'tpcb'];

type Recording = 'on' | 'direct' | 'strict' | 'off';
const RECORDINGS: readonly Recording[] = ['on', 'direct', 'strict', 'off'];

/**
 * The order of one round: on and off side by side, which goes first alternating from round to round, so the ratio
 * of a round spans one run's drift of the machine rather than up to three (this machine's speed moves by up to 2x
 * over minutes), and a steady drift favours neither. Direct runs next to off too; strict, the least asked, at an end.
 * (Measured against the rotation before: the spread of the per-round costs did not narrow; the noise is within runs.)
 */
function roundOrder(round: number): Recording[] {
  return round % 2 === 1 ? ['on', 'off', 'direct', 'strict'] : ['strict', 'direct', 'off', 'on'];
}

interface Sample {
  readonly recording: Recording;
  readonly script: PgbenchScript;
  readonly mode: QueryMode;
  readonly clients: number;
  readonly round: number;
  readonly tps: number;
  readonly latencyMs: number;
  /** The gateway process's CPU time (user + system) per transaction, in microseconds. */
  readonly cpuUsPerTx: number;
  readonly foreignCpu: number;
  /** When the run began and ended (epoch ms): the events it recorded lie between. */
  readonly from: number;
  readonly to: number;
}

/** Per case, how many statements the "on" gateway recorded and how many results joined their records. */
interface Folding extends Case {
  readonly operations: number;
  readonly folded: number;
  readonly eventsPerStatement: number;
}

const log = new CommandLog();
const machine = machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-rec-'));
delete process.env.GATEHOUSE_TEST_PG_URL;
let backend: TestPostgres | undefined;
/** Each recording's gateway process. */
const gateways: Partial<Record<Recording, Background>> = {};

try {
  progress('starting PostgreSQL');
  backend = await startPostgres();
  log.redact(backend.password, '$PG_PASSWORD');
  await run(
    log,
    'pgbench',
    ['-i', '-s', String(SCALE), '-h', backend.host, '-p', String(backend.port), '-U', backend.user, backend.database],
    { env: { PGPASSWORD: backend.password } },
  );

  const samples: Sample[] = [];
  let events = 0;
  const folding: Folding[] = [];
  // Each script gets four fresh gateways: a gateway that served TPC-B before a select-only run carries a larger log
  // and JIT feedback from writes (a mixed run read 11%, 14% and 24% for select-only where fresh gateways read 7-14%).
  for (const script of SCRIPTS) {
    const cases = CASES.filter((c) => c.script === script);
    const targets = await startGateways(join(dir, script), backend);
    // A fresh gateway's first seconds are slow (JIT, a growing SQLite file and WAL): warm every one up, unmeasured.
    for (const recording of RECORDINGS) {
      progress(`warming up recording ${recording} (${script})`);
      await runPgbench(log, targets[recording], 'simple', 8, WARM_UP_SECONDS, script);
    }
    for (let r = 1; r <= ROUNDS; r++) {
      for (const { mode, clients } of cases) {
        const order = roundOrder(r);
        for (const recording of order) {
          const label = `recording ${recording}, ${script}, ${mode}, ${clients} clients, round ${r}`;
          progress(label);
          const m = await measureQuietly(label, async () => {
            const pid = (gateways[recording] as Background).pid;
            const cpuBefore = processTreeCpuMs(pid);
            const from = Date.now();
            const result = await runPgbench(log, targets[recording], mode, clients, SECONDS, script);
            const to = Date.now();
            const cpuMs = processTreeCpuMs(pid) - cpuBefore;
            return { ...result, from, to, cpuUsPerTx: round((cpuMs * 1000) / Math.max(1, result.transactions), 1) };
          });
          samples.push({ recording, script, mode, clients, round: r, ...m.result, foreignCpu: m.foreignCpu });
        }
      }
    }
    await stopGateways();
    const written = await recorded(join(dir, script, 'on', 'audit.db'), cases, samples);
    events += written.events;
    folding.push(...written.folding);
  }

  const rows = CASES.map((c) => {
    const { script, mode, clients } = c;
    // Rounded: with an even number of rounds the median is the mean of two, which may not print short.
    const pick = (recording: Recording, field: 'tps' | 'cpuUsPerTx') =>
      round(median(samples.filter((s) => s.recording === recording && ofCase(s, c)).map((s) => s[field])), 1);
    const [on, direct, strict, off] = [
      pick('on', 'tps'),
      pick('direct', 'tps'),
      pick('strict', 'tps'),
      pick('off', 'tps'),
    ];
    const cost = (tps: number) => round(((off - tps) / off) * 100);
    // Each round runs the four back to back, so a ratio within a round is free of the drift between rounds (this
    // machine's speed moves by up to 2x over minutes); the median of those, and their spread, say how sure a cost is.
    const tpsByRound = (recording: Recording) =>
      new Map(samples.filter((s) => s.recording === recording && ofCase(s, c)).map((s) => [s.round, s.tps]));
    const offByRound = tpsByRound('off');
    const roundCosts = (recording: Recording) =>
      [...tpsByRound(recording)].flatMap(([r, tps]) => {
        const base = offByRound.get(r);
        return base === undefined ? [] : [((base - tps) / base) * 100];
      });
    const paired = (recording: Recording) => {
      const costs = roundCosts(recording);
      return { median: round(median(costs)), min: round(Math.min(...costs)), max: round(Math.max(...costs)) };
    };
    return {
      script,
      mode,
      clients,
      on: round(on),
      direct: round(direct),
      strict: round(strict),
      off: round(off),
      costPercent: cost(on),
      directCostPercent: cost(direct),
      strictCostPercent: cost(strict),
      pairedCostPercent: { on: paired('on'), direct: paired('direct'), strict: paired('strict') },
      cpu: {
        on: pick('on', 'cpuUsPerTx'),
        direct: pick('direct', 'cpuUsPerTx'),
        strict: pick('strict', 'cpuUsPerTx'),
        off: pick('off', 'cpuUsPerTx'),
      },
    };
  });
  const loadAfter = loadAverage();
  const markdown = [
    '# Cost of session recording (pgbench through Gatehouse)',
    '',
    `pgbench (scale ${SCALE}), ${SECONDS}s per run, ${ROUNDS} rounds, median tps: its select-only script (-S, one`,
    'SELECT per transaction) and its default TPC-B-like one (tpcb: BEGIN, three UPDATEs, a SELECT, an INSERT, END).',
    'One gateway config; for each script four fresh gateways, each a process of its own (`bench/recording/gateway-process.ts`, so each has JIT feedback of its',
    "own, as a deployment does): recording **on** (the default: AuditRecorder, group commit into the SQLite store's",
    'spool, one write per batch, drained into the log (WAL mode, synchronous=NORMAL) and its session index every',
    '100 ms by a thread of its own; a plain SELECT runs while its record is written and its rows are released once',
    'the record is durable), recording on **direct** (`store.sqlite.spool: false`: every group commit is a SQLite',
    "commit on the gateway's thread, the session index caught up every 250 ms), recording on **strict**",
    '(`audit.overlapReads: false` and `audit.overlapTransactionWrites: false`: every statement waits for its record',
    'before it runs; by default a BEGIN, and plain writes inside a transaction block, run while their record is',
    'written, their answers held until it is durable) and recording **off**',
    '(bench-only switch: `AuditRecorder.record` replaced by a resolved promise on that instance). In each round on',
    'and off run side by side, which goes first alternating, direct next to off and strict at an end (until',
    '2026-12-01 the four rotated, so on and off could be three runs apart; the spread of the per-round costs did not',
    "narrow with the change). Until 2026-11-30 the four ran in the bench's process, sharing the code's JIT feedback",
    'across their four configurations; the last run that way read 19.7%, 23.2% and 25.9% (see the README). One run',
    'with the same four gateways serving both scripts read 11%, 14.3% and 23.6% for select-only (the gateways',
    "carried the TPC-B runs' larger logs and JIT feedback), 6% and 21.6% for TPC-B.",
    '',
    table(
      [
        'script',
        'protocol',
        'clients',
        'tps on',
        'tps direct',
        'tps strict',
        'tps off',
        'cost % (on)',
        'cost % (direct)',
        'cost % (strict)',
      ],
      rows.map((r) => [
        r.script,
        r.mode,
        r.clients,
        r.on,
        r.direct,
        r.strict,
        r.off,
        r.costPercent,
        r.directCostPercent,
        r.strictCostPercent,
      ]),
    ),
    '',
    'The same, paired by round: each round runs the four gateways back to back, so the cost within a round is free of',
    "the machine's drift between rounds; the median of the rounds' costs, and the lowest and highest round for on.",
    '',
    table(
      ['script', 'protocol', 'clients', 'cost % (on)', 'rounds (on)', 'cost % (direct)', 'cost % (strict)'],
      rows.map((r) => [
        r.script,
        r.mode,
        r.clients,
        r.pairedCostPercent.on.median,
        `${r.pairedCostPercent.on.min} to ${r.pairedCostPercent.on.max}`,
        r.pairedCostPercent.direct.median,
        r.pairedCostPercent.strict.median,
      ]),
    ),
    '',
    "The gateway process's CPU time per transaction (user + system, all its threads; median, microseconds): what",
    'recording adds whatever the rest of the machine does.',
    '',
    table(
      [
        'script',
        'protocol',
        'clients',
        'µs on',
        'µs direct',
        'µs strict',
        'µs off',
        'added by recording (on)',
        'added (direct)',
      ],
      rows.map((r) => [
        r.script,
        r.mode,
        r.clients,
        r.cpu.on,
        r.cpu.direct,
        r.cpu.strict,
        r.cpu.off,
        round(r.cpu.on - r.cpu.off, 1),
        round(r.cpu.direct - r.cpu.off, 1),
      ]),
    ),
    '',
    `Target: under 10% cost. Events written by the "on" gateways: ${events}. A statement takes two events (its`,
    'operation record and its result), or one when its result joined its record before the write (a read, while',
    'other sessions are busy) or when the spool thread drained both together (see the README, Audit). Events per',
    'statement, "on" gateway:',
    '',
    table(
      ['script', 'protocol', 'clients', 'statements', "results in their operation's row", 'events per statement'],
      folding.map((f) => [f.script, f.mode, f.clients, f.operations, f.folded, f.eventsPerStatement]),
    ),
    '',
    ...WHERE_THE_TIME_GOES,
    '',
    "**Caveat:** the machine was shared with other engineers' test runs while this ran; each run is repeated (up to 4",
    'times) when other processes used more than 15% of a core, and the quietest attempt kept (`foreignCpu` in the JSON).',
    'Treat differences of a few percent as noise.',
    '',
    ...MEASURED_FOR_CHOICES,
    '## Machine',
    '',
    machineMarkdown(machine, loadAfter, { node: process.version }),
    '',
    '## Commands',
    '',
    '```',
    ...log.commands,
    '```',
  ].join('\n');
  writeResults(
    'recording',
    { machine, loadAfter, rounds: ROUNDS, seconds: SECONDS, rows, samples, events, folding },
    markdown,
  );
  process.stdout.write(`${markdown}\n`);
} finally {
  for (const g of Object.values(gateways)) await g.stop().catch(() => undefined);
  await backend?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** Starts the four gateways, each in a directory of its own under `root`; returns where pgbench reaches each. */
async function startGateways(root: string, pg: TestPostgres): Promise<Record<Recording, PgbenchTarget>> {
  const targets = {} as Record<Recording, PgbenchTarget>;
  for (const recording of RECORDINGS) {
    const sub = join(root, recording);
    mkdirSync(sub, { recursive: true });
    const port = await freePort();
    const yaml = gatewayYaml(pg, port, { overlap: recording !== 'strict', spool: recording !== 'direct' });
    const configPath = join(sub, 'gatehouse.yaml');
    writeFileSync(configPath, yaml);
    const env = { PG_PASSWORD: pg.password };
    const loaded = parseConfig(yaml, configPath, env);
    // The issuer's key file is made here, before the gateway reads it.
    const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    const token = await issuer.mint({ subject: 'bench', groups: ['bench'], ttlMs: 2 * 3_600_000 });
    log.redact(token, '$TOKEN');
    const gateway = startBackground(
      log,
      `gateway (recording ${recording})`,
      'node',
      ['--import', 'tsx', 'bench/recording/gateway-process.ts', configPath, recording],
      { cwd: REPO_ROOT, env },
    );
    gateways[recording] = gateway;
    await waitForPort(port, gateway, 60_000);
    targets[recording] = { host: '127.0.0.1', port, user: 'bench', database: 'bench', password: token };
  }
  return targets;
}

async function stopGateways(): Promise<void> {
  for (const recording of RECORDINGS) {
    await gateways[recording]?.stop();
    delete gateways[recording];
  }
}

/**
 * What the "on" gateway wrote (proof it recorded every transaction), and per case how many statements' results
 * joined their operation's record (one event instead of two).
 */
async function recorded(
  database: string,
  cases: readonly Case[],
  all: readonly Sample[],
): Promise<{ events: number; folding: Folding[] }> {
  const store = await SqliteStore.open(database);
  await store.settle();
  const head = await store.chainHead();
  await store.close();
  const auditLog = new Database(database, { readonly: true });
  const countEvents = auditLog.prepare<[number, number], { operations: number; folded: number }>(
    `select count(*) as operations, coalesce(sum(json_extract(payload, '$.result') is not null), 0) as folded
     from audit_events where type = 'operation' and at >= ? and at <= ?`,
  );
  const folding = cases.map((c) => {
    let operations = 0;
    let folded = 0;
    for (const s of all.filter((x) => x.recording === 'on' && ofCase(x, c))) {
      const counted = countEvents.get(s.from, s.to) as { operations: number; folded: number };
      operations += counted.operations;
      folded += counted.folded;
    }
    const eventsPerStatement = round(2 - folded / Math.max(1, operations), 2);
    return { script: c.script, mode: c.mode, clients: c.clients, operations, folded, eventsPerStatement };
  });
  auditLog.close();
  return { events: head?.seq ?? 0, folding };
}

function ofCase(s: Sample, c: Case): boolean {
  return s.script === c.script && s.mode === c.mode && s.clients === c.clients;
}

function gatewayYaml(pg: TestPostgres, port: number, options: { overlap: boolean; spool: boolean }): string {
  return gatewayConfigYaml({
    logLevel: 'warn',
    devIssuer: { keyFile: 'dev-issuer.jwk.json', maxTokenLifetime: '3h' },
    store: { path: 'audit.db', spool: options.spool },
    body: `listen: { postgres: '127.0.0.1:${port}' }
audit: { overlapReads: ${options.overlap}, overlapTransactionWrites: ${options.overlap} }
postgres: { allowPlaintextPassword: true } # loopback only, as in the quickstart
resources:
  - name: bench
    protocol: postgres
${postgresTargetYaml(pg, 'PG_PASSWORD')}    policy: [{ groups: [bench], allow: [read, write, session] }]
`,
  });
}
