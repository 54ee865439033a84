import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { CheckpointSigner } from '../../src/audit/checkpoint.js';
import { AuditCheckpointer } from '../../src/audit/checkpointer.js';
import { AuditRetention } from '../../src/audit/retention.js';
import { loadConfigFile } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { eventHash, genesisHash } from '../../src/store/hash-chain.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';

/**
 * Two real gateway processes (`gatehouse serve`) on one PostgreSQL store, each appending to its own hash chain, and
 * what `audit verify` then finds: both chains, a tampered event in either, and a consistently rewritten chain caught
 * against the checkpoints the gateways sent out of the store.
 */

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
let server: TestPostgres;
let upstream: Server;
let token: string;
const children: ChildProcess[] = [];
const ports: Record<string, number> = {};

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function databaseUrl(name: string): string {
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(use: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A config for instance `instance` on database `database`; every config shares the directory (keys, sink file). */
function writeConfig(name: string, instance: string, database: string, port: number): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `listen: { http: 127.0.0.1:${port} }
log: { level: warn }
identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { postgres: { url: "${databaseUrl(database)}", instanceId: ${instance} } }
audit:
  checkpoints:
    interval: 1s
    sink: { name: checkpoints, type: file, path: checkpoints.jsonl }
resources:
  - name: echo
    protocol: http
    pathPrefix: /echo
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [loaders], allow: [read] }]
`,
  );
  return path;
}

function serve(config: string): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'serve', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  // The gateway's log (stdout) and the CLI's errors (stderr), together.
  let stderr = '';
  const keep = (c: string) => {
    stderr += c;
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  return { child, stderr: () => stderr };
}

async function waitUntilServing(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${stderr()}`);
    try {
      if ((await get(port, '/echo/ready')).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway did not start');
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, 'a gateway stopped with SIGTERM exits cleanly');
}

function cli(args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: run.status, out: run.stdout + run.stderr };
}

/** A copy of the recorded store, for one tampering scenario; returns a config on it. */
async function copyStore(name: string): Promise<string> {
  await admin((c) => c.query(`create database ${name} template recorded`));
  return writeConfig(name, 'a', name, 1);
}

describe('two gateway replicas on one PostgreSQL store', () => {
  before(async () => {
    server = await startPostgres();
    await admin((c) => c.query('create database recorded'));
    upstream = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`echo ${req.url}`);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    ports.a = await freePort();
    ports.b = await freePort();
    writeConfig('a', 'a', 'recorded', ports.a);
    writeConfig('b', 'b', 'recorded', ports.b);
    const loaded = loadConfigFile(join(dir, 'a.yaml'));
    const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    token = await issuer.mint({ subject: 'load-job', groups: ['loaders'], ttlMs: 600_000 });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    upstream?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records traffic through both in two chains that verify; a second process with the same id is refused', async () => {
    const a = serve(join(dir, 'a.yaml'));
    const b = serve(join(dir, 'b.yaml'));
    await Promise.all([waitUntilServing(ports.a!, a.child, a.stderr), waitUntilServing(ports.b!, b.child, b.stderr)]);

    const twin = serve(writeConfig('twin', 'a', 'recorded', await freePort()));
    const [code] = (await once(twin.child, 'exit')) as [number | null];
    assert.notEqual(code, 0);
    assert.match(twin.stderr(), /audit chain "a" is held by another running gateway process/);

    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(i % 2 === 0 ? ports.a! : ports.b!, `/echo/r-${i}`)),
    );
    assert.ok(answers.every((r) => r.status === 200));
    await Promise.all([stop(a.child), stop(b.child)]);
    const warned = [a.stderr(), b.stderr()].filter((text) => /AUDIT CHECKPOINT KEY GENERATED/.test(text));
    assert.equal(warned.length, 1, 'the replica that generated the checkpoint key says so loudly; the other reads it');

    const verify = cli(['audit', 'verify', '-c', join(dir, 'a.yaml')]);
    assert.equal(verify.status, 0, verify.out);
    assert.match(verify.out, /audit chain a OK: \d+ events/);
    assert.match(verify.out, /audit chain b OK: \d+ events/);
    assert.match(verify.out, /2 chains: OK/);
    assert.doesNotMatch(verify.out, /warning: signatures not checked/, 'the generated key verifies the checkpoints');
    const sent = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8');
    assert.match(sent, /"chain":"a"/);
    assert.match(sent, /"chain":"b"/);

    // Sessions recorded by either instance are read through the other's config (one store), in time order.
    const firsts = await admin(
      (c) =>
        c.query<{ chain: string; session_id: string }>(
          'select distinct on (chain) chain, session_id from audit_events order by chain, seq',
        ),
      'recorded',
    );
    assert.deepEqual(
      firsts.rows.map((r) => r.chain),
      ['a', 'b'],
    );
    for (const { chain, session_id } of firsts.rows) {
      const show = cli([
        'sessions',
        'show',
        session_id,
        '--json',
        '-c',
        join(dir, chain === 'a' ? 'b.yaml' : 'a.yaml'),
      ]);
      assert.equal(show.status, 0, show.out);
      const events = (JSON.parse(show.out) as { events: { chain: string; at: number }[] }).events;
      assert.ok(events.length >= 2 && events.every((e) => e.chain === chain));
      const at = events.map((e) => e.at);
      assert.deepEqual(
        at,
        [...at].sort((x, y) => x - y),
      );
    }
    const report = cli(['report', '--since', '1d', '--json', '-c', join(dir, 'b.yaml')]);
    assert.equal(report.status, 0, report.out);

    const exported = cli(['audit', 'export', '-c', join(dir, 'a.yaml')]);
    assert.equal(exported.status, 0, exported.out);
    const lines = exported.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { chain: string; at: string });
    assert.deepEqual(new Set(lines.map((l) => l.chain)), new Set(['a', 'b']));
    const times = lines.map((l) => Date.parse(l.at));
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
      'export reads across instances in time order',
    );
  });

  it('a restarted instance continues its own chain', async () => {
    const before = await admin(
      (c) => c.query<{ n: string }>("select max(seq) as n from audit_events where chain = 'a'"),
      'recorded',
    );
    const a = serve(join(dir, 'a.yaml'));
    await waitUntilServing(ports.a!, a.child, a.stderr);
    assert.equal((await get(ports.a!, '/echo/after-restart')).status, 200);
    await stop(a.child);
    const rows = await admin(
      (c) => c.query<{ seq: string }>("select seq from audit_events where chain = 'a' order by seq"),
      'recorded',
    );
    const seqs = rows.rows.map((r) => Number(r.seq));
    assert.ok(seqs.length > Number(before.rows[0]?.n));
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
    );
    const verify = cli(['audit', 'verify', '-c', join(dir, 'a.yaml')]);
    assert.equal(verify.status, 0, verify.out);
  });

  for (const chain of ['a', 'b']) {
    it(`names an edited event in chain ${chain}`, async () => {
      const config = await copyStore(`edited_${chain}`);
      await admin(
        (c) =>
          c.query(
            `update audit_events set payload = replace(payload, '/r-', '/R-') where chain = $1 and seq = (
             select min(seq) from audit_events where chain = $1 and payload like '%/r-%')`,
            [chain],
          ),
        `edited_${chain}`,
      );
      const seq = await admin(
        (c) =>
          c.query<{ seq: string }>("select seq from audit_events where chain = $1 and payload like '%/R-%'", [chain]),
        `edited_${chain}`,
      );
      const verify = cli(['audit', 'verify', '-c', config]);
      assert.equal(verify.status, 1, verify.out);
      assert.match(verify.out, new RegExp(`audit chain ${chain} BROKEN at event ${seq.rows[0]?.seq} \\(edited\\)`));
      const other = chain === 'a' ? 'b' : 'a';
      assert.match(verify.out, new RegExp(`audit chain ${other} OK`), 'the other chain still verifies');
    });
  }

  it('catches a chain rewritten with fresh hashes and checkpoints only against what was sent out', async () => {
    const config = await copyStore('rewritten');
    await admin(async (c) => {
      const { rows } = await c.query<{
        id: string;
        seq: string;
        session_id: string;
        type: string;
        at: string;
        payload: string;
      }>("select id, seq, session_id, type, at, payload from audit_events where chain = 'b' order by seq");
      // The attacker edits an early event, recomputes every hash after it and removes the store's checkpoints.
      let prev = genesisHash('b');
      let edited = false;
      for (const row of rows) {
        const payload: string = edited ? row.payload : row.payload.replace('/r-', '/HIDDEN-');
        edited ||= payload !== row.payload;
        const content = { id: Number(row.seq), sessionId: row.session_id, type: row.type, at: Number(row.at) };
        const hash = eventHash(prev, { ...content, payloadJson: payload });
        await c.query('update audit_events set payload = $1, prev_hash = $2, hash = $3 where id = $4', [
          payload,
          prev,
          hash,
          row.id,
        ]);
        prev = hash;
      }
      assert.ok(edited);
      await c.query("delete from audit_checkpoints where chain = 'b'");
    }, 'rewritten');
    const alone = cli(['audit', 'verify', '-c', config]);
    assert.equal(alone.status, 0, `the store alone cannot tell: ${alone.out}`);
    const against = cli(['audit', 'verify', '-c', config, '--against', join(dir, 'checkpoints.jsonl')]);
    assert.equal(against.status, 1, against.out);
    assert.match(against.out, /audit chain b BROKEN at event \d+ \(rewritten\).*sent out of the store/);
    assert.match(against.out, /audit chain a OK/);
  });

  it('retention prunes every chain on its own and verification still passes', async () => {
    const config = await copyStore('pruned');
    const key = CheckpointSigner.fromPem(readFileSync(join(dir, '.gatehouse', 'audit-checkpoint.pem'), 'utf8'));
    const store = await PostgresStore.open(databaseUrl('pruned'), { chain: 'a' });
    const logger = pino({ level: 'silent' });
    const clock = { now: () => Date.now() + 86_400_000 };
    try {
      const checkpointer = new AuditCheckpointer(store, key, { intervalMs: 60_000, clock, logger });
      const retention = new AuditRetention(store, key, checkpointer, {
        maxAgeMs: 3_600_000,
        intervalMs: 60_000,
        clock,
        logger,
      });
      const heads = await store.chainHeads();
      const outcome = await retention.pruneOnce();
      assert.ok(outcome && outcome.events > 0);
      for (const head of heads) {
        const kept = await store.readChain(head.chain, 0, 10);
        assert.deepEqual(
          kept.map((e) => e.seq),
          [head.seq],
          `chain ${head.chain} keeps only its head`,
        );
      }
    } finally {
      await store.close();
    }
    const verify = cli(['audit', 'verify', '-c', config]);
    assert.equal(verify.status, 0, verify.out);
    assert.match(verify.out, /audit chain a OK[\s\S]*history before event \d+ was pruned/);
    assert.match(verify.out, /audit chain b OK[\s\S]*history before event \d+ was pruned/);
  });
});
