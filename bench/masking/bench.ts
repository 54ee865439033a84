/**
 * Masking benchmark.
 *
 * 1. Throughput: the default detector set over a generated 32 MB text corpus (log lines, ~1 in 8 with a sensitive
 *    value), streamed through StreamMasker in 64 KiB chunks, on one core; per detector too. The machine is shared,
 *    so two references are measured in the same run: a bare charCodeAt loop (alternating with the masking passes)
 *    and a `/\d+/g` scan over the same text, and every figure is given both in wall-clock time and in this process's
 *    CPU time (MB per CPU-second: per core, whatever else the machine runs), with the load average when it was
 *    taken. The first masking pass (cold JIT and phone-validation cache) is reported apart from the best of the
 *    next three.
 * 2. Wide rows: 10,000 rows x 18 columns read with node-postgres straight from PostgreSQL, through the gateway as an
 *    exempt caller (no masking) and as a masked caller (content scanning of every text column + a tokenize column
 *    rule), alternated, same run. The gateway runs in this process (test harness), so client and gateway share it.
 *    Then the same three paths pgbench-style: pgbench (libpq, a process of its own) running `SELECT * FROM wide;`
 *    through a gateway that is a process of its own too (`gatehouse serve`, the same masking config).
 * 3. Where the time goes: a CPU profile (node:inspector, in this process) of one more StreamMasker pass and of one
 *    more masked wide read, summarised by self time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MaskCounts } from '../../src/masking/counts.js';
import { type MaskingPlan, resolveMasking } from '../../src/masking/profile.js';
import type { Redactor } from '../../src/masking/redactor.js';
import { StreamMasker } from '../../src/masking/stream-masker.js';
import { postgresTargetYaml } from '../../test/support/gateway-config.js';
import { startPgGateway } from '../../test/support/pg-gateway.js';
import { type ProfileSummary, profileMarkdown, summariseProfile } from '../lib/cpuprofile.js';
import { mintToken, REPO_ROOT, startGatehouse, writeGatehouseConfig } from '../lib/gatehouse.js';
import { CpuAccount, loadAverage, machineInfo, processTreeCpuMs } from '../lib/machine.js';
import { CommandLog, freePort } from '../lib/processes.js';
import { median, RESULTS_DIR, ratio, round, table } from '../lib/report.js';
import { type PgbenchTarget, runPgbenchScript } from '../postgres/pgbench.js';
import { generateTextCorpus } from './text-corpus.js';

const CORPUS_BYTES = Number(process.env.BENCH_MASKING_BYTES ?? 32 * 1024 * 1024);
const CHUNK = 64 * 1024;
const ROWS = 10_000;
const ROUNDS = Number(process.env.BENCH_MASKING_ROUNDS ?? 5);
/** Full reads per pgbench run in the pgbench-style wide-row measurement. */
const PGBENCH_READS = 5;
/**
 * pgbench runs per path. This machine's speed moves in spells of a few seconds (a bare loop 1.7 times slower in some
 * than in others), each run lasts under a second, and a spell can land on one path's run and not the other's: more
 * runs, alternated, for a steadier median.
 */
const PGBENCH_ROUNDS = Number(process.env.BENCH_MASKING_PGBENCH_ROUNDS ?? 2 * ROUNDS - 1);

const machine = machineInfo();
const mbps = (bytes: number, ms: number) => round(bytes / 1e6 / (ms / 1000), 1);
const cpuMs = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};
/** Fastest of `runs` in wall-clock and in CPU time (each its own minimum). */
const timed = (runs: number, fn: () => void) => {
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const wallStart = performance.now();
    const cpuStart = cpuMs();
    fn();
    cpu = Math.min(cpu, cpuMs() - cpuStart);
    wall = Math.min(wall, performance.now() - wallStart);
  }
  return { wall, cpu };
};
const best = (runs: number, fn: () => void) => timed(runs, fn).wall;

/** Self time of `fn` under V8's sampling profiler, in this process. */
const profileDir = mkdtempSync(join(tmpdir(), 'gatehouse-masking-profile-'));
async function profiled(name: string, fn: () => unknown): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  await fn();
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const path = join(profileDir, `${name}.cpuprofile`);
  writeFileSync(path, JSON.stringify(profile));
  return summariseProfile(path, REPO_ROOT, { top: 12 });
}

// --- 1. throughput ----------------------------------------------------------------------------------------------
process.stderr.write(`generating ${CORPUS_BYTES} bytes of text...\n`);
const text = generateTextCorpus(CORPUS_BYTES);
const resolution = resolveMasking({ requests: true, exempt: [], groups: [] }, []);
const redactor = (resolution as { plan: MaskingPlan }).plan.redactor as Redactor;
const noise = new CpuAccount();
const streamAll = () => {
  const masker = new StreamMasker(redactor, new MaskCounts());
  for (let i = 0; i < text.length; i += CHUNK) masker.push(text.slice(i, i + CHUNK));
  masker.end();
};
const loadAtStart = loadAverage();
const cold = timed(1, streamAll);
const bareLoop = () => {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  if (digits < 0) throw new Error('unreachable');
};
// The bare loop and the masking passes alternate, so that both are measured under the same load: on a shared
// machine, what others run changes from one second to the next, and the ratio of the two is what is read.
const loop = { wall: Number.POSITIVE_INFINITY, cpu: Number.POSITIVE_INFINITY };
const warm = { wall: Number.POSITIVE_INFINITY, cpu: Number.POSITIVE_INFINITY };
for (let round_ = 0; round_ < 3; round_++) {
  for (const [fn, fastest] of [
    [bareLoop, loop],
    [streamAll, warm],
  ] as const) {
    const pass = timed(1, fn);
    fastest.wall = Math.min(fastest.wall, pass.wall);
    fastest.cpu = Math.min(fastest.cpu, pass.cpu);
  }
}
const loopMs = loop.wall;
const maskMs = warm.wall;
const regexMs = best(3, () => {
  const pattern = /\d+/g;
  while (pattern.exec(text) !== null);
});
const counts = new MaskCounts();
const loadAtMask = loadAverage();
redactor.mask(text.slice(0, 4 * 1024 * 1024), counts);
const perDetector = redactor.detectors.map((detector) => {
  const ms = best(2, () => detector.find(text, []));
  return { type: detector.type, mbps: mbps(text.length, ms) };
});
const throughputNoise = noise.foreignPercentOfCore();
const throughput = {
  bytes: text.length,
  maskMBps: mbps(text.length, maskMs),
  maskCpuMBps: mbps(text.length, warm.cpu),
  firstPassMBps: mbps(text.length, cold.wall),
  firstPassCpuMBps: mbps(text.length, cold.cpu),
  referenceLoopMBps: mbps(text.length, loopMs),
  referenceLoopCpuMBps: mbps(text.length, loop.cpu),
  /** Masking throughput over the bare loop's, both in CPU time: comparable across loads. */
  maskOverLoopCpu: round(loop.cpu / warm.cpu, 3),
  loadAverage: { start: loadAtStart, afterMasking: loadAtMask },
  referenceRegexMBps: mbps(text.length, regexMs),
  perDetector,
  foundIn4MB: counts.toRecord(),
  foreignCpuPercentOfCore: throughputNoise,
};
process.stderr.write(`throughput: ${JSON.stringify(throughput)}\n`);
const streamProfile = await profiled('stream', streamAll);

// --- 2. wide rows through the gateway ---------------------------------------------------------------------------
/** The wide table's masking (the `app` resource's, indented for it) and the token key, for both gateways below. */
const RESOURCE_MASKING_YAML = `
    masking:
      columns:
        - column: wide.email
          type: email
          style: tokenize
      exempt: [auditors]
`;
const TOKEN_KEY_YAML = 'masking: { tokenKey: bench-masking-token-key-0123456789 }';
const gw = await startPgGateway({ resourceYaml: RESOURCE_MASKING_YAML, topLevelYaml: TOKEN_KEY_YAML });
const admin = await gw.admin();
await admin.query(`CREATE TABLE wide (id int PRIMARY KEY, email text, ${Array.from({ length: 12 }, (_, i) => `t${i} text`).join(', ')},
  n0 int, n1 int, n2 bigint, created timestamptz)`);
await admin.query(
  `INSERT INTO wide SELECT g, 'user' || g || '@example.com',
     ${Array.from({ length: 12 }, (_, i) => (i === 3 ? `CASE WHEN g % 10 = 0 THEN 'contact ' || g || '@example.org please' ELSE md5(g::text || '${i}') END` : `md5(g::text || '${i}')`)).join(', ')},
     g, g * 2, g * 1000, now() FROM generate_series(1, ${ROWS}) g`,
);
await admin.query('ANALYZE wide');
const masked = await gw.mint('bench-masked', ['rag-readers']);
const exempt = await gw.mint('bench-exempt', ['rag-readers', 'auditors']);

/** Times one full read, after `warmUp` on the same connection (by default the same read: catalog and caches warm). */
async function readAll(config: pg.ClientConfig, warmUp = 'SELECT * FROM wide'): Promise<number> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    await client.query({ text: warmUp, rowMode: 'array' });
    const started = performance.now();
    const result = await client.query({ text: 'SELECT * FROM wide', rowMode: 'array' });
    const ms = performance.now() - started;
    if (result.rows.length !== ROWS) throw new Error(`expected ${ROWS} rows, got ${result.rows.length}`);
    return ms;
  } finally {
    await client.end();
  }
}

const times = { direct: [] as number[], unmasked: [] as number[], masked: [] as number[], maskedFresh: [] as number[] };
const rowsNoise = new CpuAccount();
const loadAtRows = loadAverage();
for (let round_ = 0; round_ < ROUNDS; round_++) {
  times.direct.push(await readAll({ connectionString: gw.backend.url }));
  times.unmasked.push(await readAll(gw.clientConfig(exempt)));
  times.masked.push(await readAll(gw.clientConfig(masked)));
  // Values the gateway has never seen: every email's token is computed (one HMAC each), none comes from the cache.
  await admin.query(`UPDATE wide SET email = 'user' || id || '-r${round_}@example.com'`);
  await admin.query('VACUUM ANALYZE wide');
  times.maskedFresh.push(await readAll(gw.clientConfig(masked), 'SELECT * FROM wide LIMIT 1'));
}
const rowsForeign = rowsNoise.foreignPercentOfCore();

// The same read pgbench-style: the client is a process of its own (pgbench, reading every row with libpq, as psql
// and psycopg do), so its parsing runs beside the gateway instead of on the gateway's thread; and so is the gateway,
// as an operator runs it (`gatehouse serve`, bench/lib/gatehouse.ts), with the same masking config. Not the gateway
// in this process: this process spawns each pgbench run, and a spawn forks it. A fork write-protects the parent's
// memory, so a gateway running here took a copy-on-write page fault for every page it wrote after each spawn:
// about 2,000 per read (8 MB; `process.resourceUsage().minorPageFault`), masked or not, a cost of sharing a process
// with the benchmark that no deployment has. Token cache warm.
const pgbenchLog = new CommandLog();
const wideScript = join(profileDir, 'wide.sql');
writeFileSync(wideScript, 'SELECT * FROM wide;\n');
const b = gw.backend;
pgbenchLog.redact(b.password, '$PG_PASSWORD');
const gatewayDir = mkdtempSync(join(tmpdir(), 'gatehouse-masking-gw-'));
const gatewayPort = await freePort();
const gatewayConfig = writeGatehouseConfig(
  gatewayDir,
  `listen:
  postgres: 127.0.0.1:${gatewayPort}
postgres:
  allowPlaintextPassword: true # loopback only
${TOKEN_KEY_YAML}
resources:
  - name: app
    protocol: postgres
${postgresTargetYaml(b, 'BENCH_PG_PASSWORD')}    policy:
      - groups: [rag-readers]
        allow: [read]${RESOURCE_MASKING_YAML}`,
);
const gatewayEnv = { BENCH_PG_PASSWORD: b.password };
const maskedToken = await mintToken(pgbenchLog, gatewayConfig, 'rag-readers', gatewayEnv);
const exemptToken = await mintToken(pgbenchLog, gatewayConfig, 'rag-readers,auditors', gatewayEnv);
pgbenchLog.redact(maskedToken, '$MASKED_TOKEN');
pgbenchLog.redact(exemptToken, '$EXEMPT_TOKEN');
const gateway = await startGatehouse(pgbenchLog, gatewayConfig, gatewayPort, { env: gatewayEnv });
const pgbenchTarget = (token: string): PgbenchTarget => ({
  host: '127.0.0.1',
  port: gatewayPort,
  user: 'agent',
  database: 'app',
  password: token,
});
const pgbenchTargets = {
  direct: { host: b.host, port: b.port, user: b.user, database: b.database, password: b.password },
  unmasked: pgbenchTarget(exemptToken),
  masked: pgbenchTarget(maskedToken),
} satisfies Record<string, PgbenchTarget>;
const pgbenchMs = { direct: [] as number[], unmasked: [] as number[], masked: [] as number[] };
/** The gateway process's CPU time (all its threads: the relay's, the audit spool's, garbage collection) per read. */
const pgbenchCpuMs = { direct: [] as number[], unmasked: [] as number[], masked: [] as number[] };
// The gateway is a process of its own: stopped however the measurement ends, never left behind.
try {
  const gatewayPid = gateway.server.pid;
  if (gatewayPid <= 0) throw new Error('the gateway process has no pid');
  // A fresh process: its first reads compile the relay and the masking code. Not measured.
  for (const path of ['unmasked', 'masked'] as const) {
    await runPgbenchScript(pgbenchLog, pgbenchTargets[path], wideScript, PGBENCH_READS);
  }
  for (let round_ = 0; round_ < PGBENCH_ROUNDS; round_++) {
    for (const path of ['direct', 'unmasked', 'masked'] as const) {
      const cpuStart = processTreeCpuMs(gatewayPid);
      const result = await runPgbenchScript(pgbenchLog, pgbenchTargets[path], wideScript, PGBENCH_READS);
      pgbenchCpuMs[path].push((processTreeCpuMs(gatewayPid) - cpuStart) / PGBENCH_READS);
      pgbenchMs[path].push(result.latencyMs);
    }
  }
  // The masked path of this gateway masks: its token stands where the email was.
  const gatewayCheck = new pg.Client({ ...pgbenchTargets.masked });
  await gatewayCheck.connect();
  const gatewayEmail = String((await gatewayCheck.query('SELECT email FROM wide WHERE id = 10')).rows[0]?.email);
  await gatewayCheck.end();
  if (!gatewayEmail.startsWith('tok_email_')) throw new Error(`the masked read got ${gatewayEmail}, not a token`);
} finally {
  await gateway.server.stop();
  rmSync(gatewayDir, { recursive: true, force: true });
}
const rowsProfile = await profiled('rows', () => readAll(gw.clientConfig(masked)));
rmSync(profileDir, { recursive: true, force: true });
const check = new pg.Client(gw.clientConfig(masked));
await check.connect();
const sample = (await check.query('SELECT email, t3 FROM wide WHERE id = 10')).rows[0];
await check.end();
await admin.end();
await gw.stop();
const rows = {
  rows: ROWS,
  columns: 18,
  rounds: ROUNDS,
  directMs: round(median(times.direct)),
  unmaskedMs: round(median(times.unmasked)),
  maskedMs: round(median(times.masked)),
  maskedOverUnmasked: ratio(median(times.masked), median(times.unmasked)),
  maskedFreshMs: round(median(times.maskedFresh)),
  maskedFreshOverUnmasked: ratio(median(times.maskedFresh), median(times.unmasked)),
  pgbench: {
    readsPerRun: PGBENCH_READS,
    runs: PGBENCH_ROUNDS,
    directMs: round(median(pgbenchMs.direct)),
    unmaskedMs: round(median(pgbenchMs.unmasked)),
    maskedMs: round(median(pgbenchMs.masked)),
    maskedOverUnmasked: ratio(median(pgbenchMs.masked), median(pgbenchMs.unmasked)),
    gatewayCpuMs: {
      unmasked: round(median(pgbenchCpuMs.unmasked)),
      masked: round(median(pgbenchCpuMs.masked)),
    },
    allMs: pgbenchMs,
    allGatewayCpuMs: pgbenchCpuMs,
    commands: [...new Set(pgbenchLog.commands)],
  },
  sampleMaskedRow: sample,
  allMs: times,
  foreignCpuPercentOfCore: rowsForeign,
  loadAverage: { start: loadAtRows, end: loadAverage() },
};
process.stderr.write(`wide rows: ${JSON.stringify(rows)}\n`);

// --- report -----------------------------------------------------------------------------------------------------
const loadAfter = loadAverage();
writeFileSync(
  join(RESULTS_DIR, 'masking.json'),
  `${JSON.stringify({ machine, loadAfter, throughput, rows, profiles: { stream: streamProfile, rows: rowsProfile } }, null, 2)}\n`,
);
const md = `# Masking benchmark

Generated by \`bash bench/masking/run.sh\` (bench/masking/bench.ts).

- Date: ${machine.date}; ${machine.nproc} CPUs (${machine.cpuModel}), Node ${machine.node}
- Load average before ${machine.loadBefore.join(' / ')}, after ${loadAfter.join(' / ')}; CPU used by other processes
  while measuring: ${throughputNoise}% of a core (throughput), ${rowsForeign}% (wide rows). This machine is shared:
  read the figures next to the references measured in the same run.

## Throughput, default detector set, one core

Load average (\`uptime\`) when masking started ${throughput.loadAverage.start.join(' / ')}, after the masking passes
${throughput.loadAverage.afterMasking.join(' / ')}.

${table(
  ['What', 'MB/s (wall)', 'MB/s (CPU time)'],
  [
    ['StreamMasker, all default detectors, 64 KiB chunks, best of 3', throughput.maskMBps, throughput.maskCpuMBps],
    ['the same, first pass (cold JIT, empty phone cache)', throughput.firstPassMBps, throughput.firstPassCpuMBps],
    [
      'reference: bare charCodeAt loop over the same text',
      throughput.referenceLoopMBps,
      throughput.referenceLoopCpuMBps,
    ],
    ['reference: one /\\d+/g scan over the same text', throughput.referenceRegexMBps, ''],
    ...perDetector.map((d) => [`detector ${d.type} alone`, d.mbps, ''] as [string, number, string]),
  ],
)}

Masking over the bare loop, in CPU time: **${throughput.maskOverLoopCpu}** (0.445 in the run before the phone-number
cache kept copies of its keys, 0.245 before the rounds of work before that, 0.142 and 0.09 before those). The target is
100 MB/s per core, and the cores of this machine do not run at one speed: the same bare loop ran at 145 to 300 MB/s
from one run to the next, minutes apart (a shared VM). Masking keeps to about 0.45 of the loop, so it reaches 100 MB/s
while the loop runs at about 220 or faster: the target is met on this machine's fast spells and not on its slow ones.
Read the ratio, which carries across those spells, next to the MB/s. The cache's keys were slices of the text masked,
and a V8 slice keeps its whole parent alive: every 64 KiB chunk a cached number came from stayed in memory, was
promoted, and was collected by full garbage collections (a tenth of the time); its LRU touch stored each hit's slice
anew. In paired processes the fix moved the ratio from 0.385-0.444 to 0.424-0.48.

Corpus: ${round(text.length / 1e6, 1)} MB of generated log lines (timestamps, UUIDs, versions, order numbers, about one
sensitive value per 8 lines). Target: 100 MB/s per core.

## 10,000 wide rows (18 columns) read with node-postgres

${table(
  ['Path', 'median ms'],
  [
    ['direct to PostgreSQL', rows.directMs],
    ['through the gateway, no masking (exempt caller)', rows.unmaskedMs],
    ['through the gateway, masked (content scan + tokenize column rule)', rows.maskedMs],
    ['the same, every email new to the gateway (no token cached)', rows.maskedFreshMs],
  ],
)}

Masked / unmasked: **${rows.maskedOverUnmasked}x**; with every email new to the gateway (one HMAC per row, the
token cache no help): **${rows.maskedFreshOverUnmasked}x** (target: within 1.5x; before this round of work: 3.47x, 420 / 121
ms; the rounds before: 3.28x, 3.68x). ${ROUNDS} rounds, alternated. Load average ${rows.loadAverage.start.join(' / ')} at the start, ${rows.loadAverage.end.join(' / ')} at
the end.

The same read pgbench-style: \`pgbench -n -c 1 -t ${PGBENCH_READS} -f wide.sql\` (\`SELECT * FROM wide;\`), the client a
process of its own reading every row with libpq (as psql and psycopg do), through a gateway that is a process of its
own too, as an operator runs it (\`gatehouse serve\`, the same masking config); median of ${PGBENCH_ROUNDS} runs' average
latency, alternated, and the CPU time the gateway's process (its thread, the audit spool's, garbage collection) spent
per read:

${table(
  ['Path', 'median ms per read', 'gateway CPU ms per read'],
  [
    ['direct to PostgreSQL', rows.pgbench.directMs, ''],
    ['through the gateway, no masking (exempt caller)', rows.pgbench.unmaskedMs, rows.pgbench.gatewayCpuMs.unmasked],
    ['through the gateway, masked', rows.pgbench.maskedMs, rows.pgbench.gatewayCpuMs.masked],
  ],
)}

Masked / unmasked, pgbench-style: **${rows.pgbench.maskedOverUnmasked}x** (target: within 1.5x). Until 2026-11-30
the gateway of this measurement ran in the bench's process, which spawns each pgbench run: every spawn forked the
gateway's process, which then took a copy-on-write page fault for each page it wrote (about 2,000 a read, masked or
not). The masked read measured 1.65x to 1.99x that way, the gateway's CPU time about 70 ms a read where it is about
60 in a process of its own. This is the reading to judge the 1.5x target by
(the issue asks for a pgbench-style read), and the stricter one: with no node-postgres parsing on the gateway's
thread to hide behind, the unmasked relay costs about nothing over a direct read (its CPU time hides behind PostgreSQL's), and masking's
cost per row shows whole: the masked read is as long as the gateway's CPU time for it.

\`\`\`
${rows.pgbench.commands.join('\n')}
\`\`\`

## Where the time goes now

What the profiles showed at the end of the round of work that made masking faster (the tables below are this
run's). Text: the shared scan for numbers (\`scanRunClusters\` with \`scanFrom\` and the numeric detectors' cluster
checks inlined) is still the largest part, about a third, though its skip search now reads no character twice: the
corpus is dense in numbers (a timestamp on every line, UUIDs, order numbers). Then the secret detector (prefix
searches, assignments around \`=\` and \`:\`: a fifth), the IBAN start search (one regex pass, its check digits in a
look-ahead: a seventh) and the IP detectors' searches around \`.\` and \`:\` (a tenth); phone checks, overlap resolution
and the stream's hold-back are a few percent each. Garbage collection fell from a tenth to 2% once the phone cache
stopped keeping masked chunks alive (see above). Passing over the runs of number characters in which no value can
begin (an id's tail after \`-\`) without scanning them for clusters was tried and measured no faster: the numeric
detectors reject such clusters at their first check.

Wide rows, as perf (software cpu-clock, \`--perf-basic-prof\`) showed the pgbench-style read's time in the gateway:
the survey of each scanned value where it lies (\`Redactor.survey\`: a pass that only ors byte classes together, four
bytes a step, and the pass that follows runs of number characters only from the first character a number may
follow) is the largest part, about a quarter. It says which detectors' trigger characters occur and where runs of
number characters could hold a value; a value in which no detector can find anything (most of this table's: hex ids)
is neither copied, decoded nor scanned, and the others of its row are copied side by side, decoded once and scanned
only by the detectors that can find something there (\`ResultMasking.maskScanned\`). Then rebuilding the DataRows that
changed (every row of this table), about an eighth: inside the session's frame buffer, from a copy of the row placed
at the end of the room taken, with no view made per row or per copy. Then the row's own parsing and the tokenize
column rule's values, which come from a cache keyed by the value's bytes (\`MaskedValueCache\`, shared by the plan's
sessions: one slot read and no decode on a hit); behind it, the HMAC is computed once per distinct value (the token
cache keeps two generations of 16,384 values per kind; the first read of a table pays one \`createHmac\` per distinct
value). The relay's own part is mostly the socket writes and a view per frame read. Before this round the frame
reader copied the rest of a socket chunk and the whole next one for every row that spanned two (about one extra copy
of the result per read), a chunk's masked rows were joined for the write rather than written vectored, and a view was
made per rewritten row and per copy; with those gone the masked read went from 1.93x to 1.65-1.75x. Numbers,
timestamps and other non-text columns were never scanned. In the node-postgres read, node-postgres's own decoding on
the client side (same process) and garbage collection are the largest parts.

Tokenize's HMAC (\`src/masking/styles.ts\`, \`Tokenizer\`): node:crypto's \`createHmac\` costs a few µs of set-up for a
value new to the token cache; a hand-written SHA-256 measured twice as fast, but is not worth owning cryptographic
code for the first read of a value.

One more StreamMasker pass over the corpus, under V8's sampling profiler (self time; regex matching is counted in
the function that runs the regex):

${profileMarkdown(streamProfile, 12)}

One more masked wide read (client and gateway share this process, so node-postgres's parsing is in it too):

${profileMarkdown(rowsProfile, 12)}
`;
writeFileSync(join(RESULTS_DIR, 'masking.md'), md);
process.stdout.write(md);
