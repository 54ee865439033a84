import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { readinessOf } from '../support/readiness.js';
import { startEchoGateway } from './echo-gateway.js';
import type { GatewayProcess } from './gateway-process.js';

/** chattr +i works only as root on a file system that has the flag (ext4, xfs, btrfs; not tmpfs or overlayfs). */
function immutableSupported(dir: string): boolean {
  const probe = join(dir, 'immutable-probe');
  writeFileSync(probe, '');
  try {
    execFileSync('chattr', ['+i', probe], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * A real gateway process whose SQLite store (file, WAL and spool) is made immutable (chattr +i, as root) under traffic: every request is
 * refused with 503 and never reaches the upstream, readiness says not ready, and once the files are writable again
 * traffic resumes without a restart, with every answered request in the log.
 */
describe('a SQLite store made immutable under a real gateway process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-immutable-'));
  const storeDir = join(dir, 'store');
  const supported = immutableSupported(dir);
  let upstream: Server;
  let upstreamPaths: string[] = [];
  let gateway: GatewayProcess;
  let http: number;
  let admin: number;
  let token: string;

  const get = async (path: string) => {
    try {
      const res = await fetch(`http://127.0.0.1:${http}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.text() };
    } catch (error) {
      return { status: 0, body: String((error as Error).cause ?? error) };
    }
  };
  const { readyz, waitForReady } = readinessOf(() => admin);
  /**
   * Every file and folder of the store but the WAL index (`-shm`): SQLite maps that file shared and writes to the
   * mapping, and the kernel kills a process writing to a mapping of a file made immutable with SIGBUS (seen here
   * with `-R`), which no program can turn into a clean error.
   */
  const chattr = (flag: '+i' | '-i') => {
    const paths = [storeDir, ...readdirSync(storeDir, { recursive: true }).map((p) => join(storeDir, String(p)))];
    execFileSync('chattr', [flag, ...paths.filter((p) => !p.endsWith('-shm'))]);
  };

  before(async () => {
    if (!supported) return;
    mkdirSync(storeDir);
    ({ upstream, gateway, http, admin, token, upstreamPaths } = await startEchoGateway(dir));
  });

  after(async () => {
    if (supported) execFileSync('chattr', ['-R', '-i', storeDir], { stdio: 'ignore' });
    await gateway?.stop('SIGKILL');
    upstream?.closeAllConnections();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses every request while immutable, releases nothing unrecorded, and recovers', {
    skip: supported ? false : 'chattr +i is not available here (needs root on ext4, xfs or btrfs)',
  }, async () => {
    assert.equal((await get('/echo/before')).status, 200);
    assert.equal((await readyz()).status, 200);

    chattr('+i');
    const whileImmutable: number[] = [];
    for (let i = 0; i < 50; i++) whileImmutable.push((await get(`/echo/immutable-${i}`)).status);
    const { exitCode, signalCode } = gateway.child;
    assert.ok(
      whileImmutable.every((s) => s === 503),
      `every request refused with 503: ${[...new Set(whileImmutable)].join(',')} (gateway exit ${exitCode} ${signalCode})\n${gateway.output().slice(-3000)}`,
    );
    assert.deepEqual(
      upstreamPaths.filter((p) => p.includes('immutable-')),
      [],
      'no refused request reached the upstream',
    );
    const notReady = await waitForReady(503, 5_000);
    assert.equal(notReady.status, 503, JSON.stringify(notReady.body));

    chattr('-i');
    const readyAgain = await waitForReady(200, 15_000);
    assert.equal(readyAgain.status, 200, JSON.stringify(readyAgain.body));
    assert.equal((await get('/echo/after')).status, 200);

    assert.equal(await gateway.stop('SIGTERM'), 0, gateway.output().slice(-2000));
    const db = new Database(join(storeDir, 'audit.db'), { readonly: true });
    try {
      const texts = db
        .prepare("select payload from audit_events where type = 'operation'")
        .all()
        .map((r) => (JSON.parse((r as { payload: string }).payload) as { text?: string }).text ?? '');
      for (const path of ['/before', '/after']) {
        assert.ok(
          texts.some((t) => t.endsWith(path)),
          `${path} is in the log: ${texts.join(' | ')}`,
        );
      }
      assert.ok(!texts.some((t) => t.includes('immutable-')), 'no refused request is in the log as run');
      const { refused } = db.prepare('select sum(refused_events) as refused from gateway_instances').get() as {
        refused: number;
      };
      assert.ok(refused >= whileImmutable.length, `the refusals left a count in the store: ${refused}`);
    } finally {
      db.close();
    }
  });
});
