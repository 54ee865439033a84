import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const MODULE = new URL('../../src/audit/checkpoint-key.ts', import.meta.url).href;

/** A process of its own that loads or creates the key at `path` once `go` exists, printing its key id or error. */
function creator(path: string, go: string): Promise<string> {
  const script = `
    import { existsSync } from 'node:fs';
    import pino from 'pino';
    const { loadOrCreateCheckpointKey } = await import(${JSON.stringify(MODULE)});
    while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 1));
    try {
      process.stdout.write(loadOrCreateCheckpointKey(${JSON.stringify(path)}, pino({ level: 'silent' })).keyId);
    } catch (error) {
      process.stdout.write('error: ' + error.message);
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  return new Promise((resolve) => child.on('exit', () => resolve(out)));
}

describe('the default checkpoint key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-checkpoint-key-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is created once when several replicas start at the same moment: every one signs with the same key', async () => {
    const path = join(dir, 'keys', 'audit-checkpoint.pem');
    const go = join(dir, 'go');
    const running = Array.from({ length: 6 }, () => creator(path, go));
    // Every process loaded its code and waits for the file `go`, so they race on the key's creation together.
    await new Promise((r) => setTimeout(r, 4_000));
    rmSync(go, { force: true });
    (await import('node:fs')).writeFileSync(go, '');
    const ids = await Promise.all(running);
    assert.equal(new Set(ids).size, 1, ids.join(' | '));
    assert.match(ids[0] ?? '', /^[0-9a-f]{16}$/);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'keys')), ['audit-checkpoint.pem'], 'no temporary file left');
  });
});
