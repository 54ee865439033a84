import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { CheckpointSigner } from '../../src/audit/checkpoint.js';
import { AuditCheckpointer } from '../../src/audit/checkpointer.js';
import { AuditRetention } from '../../src/audit/retention.js';
import type { AuditEventInput } from '../../src/core/audit-event.js';
import { eventHash } from '../../src/store/hash-chain.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;
const logger = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'gatehouse-tamper-'));
after(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const DAY = 86_400_000;

/** Three sessions of four events each (ids 1..12), the first two ten days old. */
function sessionEvents(sessionId: string, at: number, sql: string): AuditEventInput[] {
  return [
    {
      sessionId,
      type: 'session.start',
      at,
      payload: {
        protocol: 'postgres',
        resource: 'app',
        issuer: 'https://issuer.test',
        subject: sessionId,
        groups: ['rag'],
        tokenId: 't',
      },
    },
    { sessionId, type: 'operation', at: at + 1, payload: { seq: 1, kind: 'read', text: sql, verdict: 'allow' } },
    { sessionId, type: 'operation.result', at: at + 2, payload: { seq: 1, outcome: 'ok', rows: 1 } },
    { sessionId, type: 'session.end', at: at + 3, payload: { reason: 'client closed' } },
  ];
}

let template: string;
let privatePem: string;

function cli(args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: run.status, out: run.stdout + run.stderr };
}

/** A copy of the recorded log in its own directory, with a config naming the signing key. */
function copyLog(name: string): { dir: string; config: string; db: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  const db = join(dir, 'audit.db');
  copyFileSync(template, db);
  copyFileSync(join(root, 'keys', 'signing.pem'), join(dir, 'signing.pem'));
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(
    config,
    `identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { sqlite: { path: audit.db } }
audit:
  checkpoints:
    signingKey: "\${file:signing.pem}"
`,
  );
  return { dir, config, db };
}

function tamper(db: string, edit: (sqlite: Database.Database) => void): void {
  const sqlite = new Database(db);
  try {
    edit(sqlite);
  } finally {
    sqlite.close();
  }
}

interface Row {
  id: number;
  session_id: string;
  type: string;
  at: number;
  payload: string;
  prev_hash: string;
  hash: string;
}

describe('audit verify on a tampered SQLite file (the real CLI)', () => {
  before(async () => {
    mkdirSync(join(root, 'keys'));
    const keygen = cli([
      'audit',
      'keygen',
      '--private-key',
      join(root, 'keys', 'signing.pem'),
      '--public-key',
      join(root, 'keys', 'signing.pub.pem'),
    ]);
    assert.equal(keygen.status, 0, keygen.out);
    const { readFileSync } = await import('node:fs');
    privatePem = readFileSync(join(root, 'keys', 'signing.pem'), 'utf8');
    template = join(root, 'template.db');
    const store = await SqliteStore.open(template);
    await store.migrate();
    await store.appendEvents(sessionEvents('old-1', T0 - 10 * DAY, 'SELECT 1 FROM orders'));
    await store.appendEvents(sessionEvents('old-2', T0 - 9 * DAY, 'SELECT 2 FROM orders'));
    await store.appendEvents(sessionEvents('new-1', T0, 'SELECT 3 FROM orders'));
    const checkpointer = new AuditCheckpointer(store, CheckpointSigner.fromPem(privatePem), {
      intervalMs: 60_000,
      clock: { now: () => T0 },
      logger,
    });
    await checkpointer.stop(); // the shutdown checkpoint signs event 12
    await store.close();
  });

  it('passes an untouched log', () => {
    const { config } = copyLog('intact');
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 0, run.out);
    assert.match(run.out, /audit chain default OK: 12 events \(ids 1\.\.12\)/);
    assert.match(run.out, /checkpoints: 1, 1 with a valid signature/);
  });

  it('names an edited event', () => {
    const { config, db } = copyLog('edit');
    tamper(db, (s) =>
      s.prepare(`update audit_events set payload = replace(payload, 'SELECT 2', 'SELECT 9') where id = 6`).run(),
    );
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 6 \(edited\)/);
  });

  it('names an edited event whose hash was recomputed too (its successor no longer links)', () => {
    const { config, db } = copyLog('edit-rehash');
    tamper(db, (s) => {
      const row = s.prepare('select * from audit_events where id = 6').get() as Row;
      const payload = row.payload.replace('SELECT 2', 'SELECT 9');
      const hash = eventHash(row.prev_hash, {
        id: 6,
        sessionId: row.session_id,
        type: row.type,
        at: row.at,
        payloadJson: payload,
      });
      s.prepare('update audit_events set payload = ?, hash = ? where id = 6').run(payload, hash);
    });
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 6 \(inserted\): event 6 is not the event that event 7 was written after/);
  });

  it('names a deleted event', () => {
    const { config, db } = copyLog('delete');
    tamper(db, (s) => s.prepare('delete from audit_events where id = 7').run());
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 7 \(deleted\): event 7 is missing/);
  });

  it('names a deleted event when the later ones were renumbered to close the gap', () => {
    const { config, db } = copyLog('delete-renumber');
    tamper(db, (s) => {
      s.prepare('delete from audit_events where id = 7').run();
      s.prepare('update audit_events set id = -id where id > 7').run();
      s.prepare('update audit_events set id = -id - 1 where id < 0').run();
    });
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 7 \(deleted\)/);
  });

  it('names an inserted event, even one chained with a correct hash', () => {
    const { config, db } = copyLog('insert');
    tamper(db, (s) => {
      s.prepare('update audit_events set id = -id where id >= 7').run();
      s.prepare('update audit_events set id = -id + 1 where id < 0').run();
      const prev = s.prepare('select * from audit_events where id = 6').get() as Row;
      const payload = JSON.stringify({ seq: 2, kind: 'read', text: 'SELECT harmless', verdict: 'allow' });
      const hash = eventHash(prev.hash, {
        id: 7,
        sessionId: 'old-2',
        type: 'operation',
        at: prev.at + 1,
        payloadJson: payload,
      });
      s.prepare('insert into audit_events values (7, ?, ?, ?, ?, ?, ?)').run(
        'old-2',
        'operation',
        prev.at + 1,
        payload,
        prev.hash,
        hash,
      );
    });
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 7 \(inserted\): event 7 was inserted/);
  });

  it('names reordered events', () => {
    const { config, db } = copyLog('reorder');
    tamper(db, (s) => {
      s.prepare('update audit_events set id = -1 where id = 8').run();
      s.prepare('update audit_events set id = 8 where id = 9').run();
      s.prepare('update audit_events set id = 9 where id = -1').run();
    });
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 8 \(reordered\)/);
  });

  it('detects events cut from the end, below a signed checkpoint', () => {
    const { config, db } = copyLog('truncate');
    tamper(db, (s) => s.prepare('delete from audit_events where id >= 11').run());
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 11 \(truncated\): events 11\.\.12 are missing/);
  });

  it('detects a chain rewritten with fresh hashes by its disagreement with the signed checkpoint', () => {
    const { config, db } = copyLog('rewrite');
    tamper(db, (s) => {
      const rows = s.prepare('select * from audit_events order by id').all() as Row[];
      let prev = rows[3]!.hash;
      for (const row of rows.slice(4)) {
        const payload = row.payload.replaceAll('orders', 'nothing');
        const hash = eventHash(prev, {
          id: row.id,
          sessionId: row.session_id,
          type: row.type,
          at: row.at,
          payloadJson: payload,
        });
        s.prepare('update audit_events set payload = ?, prev_hash = ?, hash = ? where id = ?').run(
          payload,
          prev,
          hash,
          row.id,
        );
        prev = hash;
      }
    });
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /BROKEN at event 12 \(rewritten\)/);
  });

  it('detects a forged checkpoint signature', () => {
    const { config, db } = copyLog('forged');
    tamper(db, (s) => {
      // Claim the chain ended at event 10: a checkpoint an attacker would need to hide deleted events.
      const row = s.prepare('select * from audit_checkpoints').get() as { signature: string };
      const ten = s.prepare('select hash from audit_events where id = 10').get() as { hash: string };
      s.prepare('update audit_checkpoints set event_id = 10, hash = ?').run(ten.hash);
      assert.ok(row.signature.length > 0);
    });
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 1, run.out);
    assert.match(
      run.out,
      /BROKEN at event 10 \(forged-checkpoint\): signed checkpoint #1 \(event 10\) has an invalid signature/,
    );
  });

  it('verifies with only the public key, and refuses checkpoints signed by another key', () => {
    const { config } = copyLog('public-only');
    const ok = cli(['audit', 'verify', '-c', config, '--public-key', join(root, 'keys', 'signing.pub.pem')]);
    assert.equal(ok.status, 0, ok.out);
    const otherDir = join(root, 'other-key');
    mkdirSync(otherDir);
    assert.equal(
      cli(['audit', 'keygen', '--private-key', join(otherDir, 'k.pem'), '--public-key', join(otherDir, 'k.pub')])
        .status,
      0,
    );
    const wrong = cli(['audit', 'verify', '-c', config, '--public-key', join(otherDir, 'k.pub')]);
    assert.equal(wrong.status, 1, wrong.out);
    assert.match(wrong.out, /forged-checkpoint.*unknown key/);
  });

  it('keeps verifying after retention pruned old sessions, and notices a pruned prefix with no anchor', async () => {
    const { config, db } = copyLog('prune');
    const store = await SqliteStore.open(db);
    await store.migrate();
    const signer = CheckpointSigner.fromPem(privatePem);
    const clock = { now: () => T0 + DAY };
    const checkpointer = new AuditCheckpointer(store, signer, { intervalMs: 60_000, clock, logger });
    const retention = new AuditRetention(store, signer, checkpointer, {
      maxAgeMs: 7 * DAY,
      intervalMs: 60_000,
      clock,
      logger,
    });
    const pruned = await retention.pruneOnce();
    await store.close();
    assert.deepEqual(pruned, { throughId: 8, events: 8, sessions: 2 }, 'both old sessions go, the recent one stays');
    const run = cli(['audit', 'verify', '-c', config]);
    assert.equal(run.status, 0, run.out);
    assert.match(run.out, /audit chain default OK: 4 events \(ids 9\.\.12\)/);
    assert.match(run.out, /history before event 9 was pruned; anchored by signed checkpoint/);

    tamper(db, (s) => s.prepare(`delete from audit_checkpoints where reason = 'prune'`).run());
    const unanchored = cli(['audit', 'verify', '-c', config]);
    assert.equal(unanchored.status, 1, unanchored.out);
    assert.match(unanchored.out, /BROKEN at event 9 \(unanchored\)/);
  });
});
