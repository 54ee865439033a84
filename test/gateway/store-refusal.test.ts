import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { readinessOf } from '../support/readiness.js';
import { startEchoGateway } from './echo-gateway.js';
import type { GatewayProcess } from './gateway-process.js';

/**
 * A real gateway process whose SQLite store lives on a small tmpfs (mounted here, as root), filled up under traffic: readiness must follow, refusals must leave a persisted trace, and the log must
 * not grow with every refused operation.
 */
describe('the audit store refuses writes (full disk) under a real gateway process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-refusal-'));
  const storeDir = join(dir, 'store');
  let mounted = false;
  let upstream: Server;
  let gateway: GatewayProcess;
  let http: number;
  let admin: number;
  let token: string;

  const get = async (path: string) => {
    try {
      const res = await fetch(`http://127.0.0.1:${http}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };
  const { readyz, waitForReady } = readinessOf(() => admin);
  const errorLines = () =>
    gateway
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":50'));

  before(async () => {
    mkdirSync(storeDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', storeDir]);
    mounted = true;
    ({ upstream, gateway, http, admin, token } = await startEchoGateway(dir));
  });

  after(async () => {
    await gateway?.stop('SIGKILL');
    upstream?.closeAllConnections();
    upstream?.close();
    if (mounted) execFileSync('umount', ['-l', storeDir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers not ready while the store is full, keeps a count of refusals and logs them in aggregate', async () => {
    assert.equal((await get('/echo/before')).status, 200);
    assert.equal((await readyz()).status, 200);

    // Full: a filler file takes every free byte of the tmpfs.
    const filler = join(storeDir, 'filler');
    for (const [bs, of] of [
      ['64k', filler],
      ['512', `${filler}-tail`],
    ]) {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${of}`, `bs=${bs}`], { stdio: 'ignore' });
      } catch {
        // dd stops with "No space left on device": the point.
      }
    }
    const errorsBefore = errorLines().length;
    const whileFull = [];
    for (let i = 0; i < 200; i++) whileFull.push((await get(`/echo/full-${i}`)).status);
    // A few may still fit in what the spool had left; every answered one must be in the log (checked at the end).
    assert.ok(whileFull.filter((s) => s !== 200).length >= 150, `refused while full: ${whileFull.join(',')}`);
    assert.ok(
      whileFull.every((s) => s === 200 || s === 503 || s === 0),
      `refused cleanly: ${[...new Set(whileFull)].join(',')}`,
    );
    const notReady = await waitForReady(503, 5_000);
    assert.equal(notReady.status, 503, JSON.stringify(notReady.body));
    console.log(`# readiness while full: ${JSON.stringify(notReady.body)}`);
    const newErrors = errorLines().length - errorsBefore;
    assert.ok(newErrors <= 20, `200 refused operations logged ${newErrors} error lines, not one each`);

    // Space again: ready again without a restart, and traffic is answered.
    rmSync(filler);
    rmSync(`${filler}-tail`);
    const readyAgain = await waitForReady(200, 15_000);
    assert.equal(readyAgain.status, 200, JSON.stringify(readyAgain.body));
    assert.equal((await get('/echo/after-full')).status, 200);

    // The refusals left a trace in the store once it accepted writes again.
    assert.equal(await gateway.stop('SIGTERM'), 0, gateway.output().slice(-2000));
    const db = new Database(join(storeDir, 'audit.db'), { readonly: true });
    try {
      const row = db.prepare('select sum(refused_events) as refused from gateway_instances').get() as {
        refused: number;
      };
      const refusedRequests = whileFull.filter((s) => s !== 200).length;
      console.log(`# refused events persisted: ${row.refused} (${refusedRequests} requests refused)`);
      assert.ok(row.refused >= refusedRequests, `refused events persisted: ${row.refused}`);
      const answered = whileFull.flatMap((s, i) => (s === 200 ? [` /full-${i}`] : []));
      const recorded = db
        .prepare("select payload from audit_events where type = 'operation' and payload like '%/full-%'")
        .all()
        .map((r) => (JSON.parse((r as { payload: string }).payload) as { text?: string }).text ?? '');
      const missing = answered.filter((path) => !recorded.some((text) => text.endsWith(path)));
      assert.deepEqual(
        missing,
        [],
        `every request answered while the store was full is in the log (${answered.length})`,
      );
    } finally {
      db.close();
    }
  });
});
