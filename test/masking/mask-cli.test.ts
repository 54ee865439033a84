import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { temporaryDirectory } from '../support/temp-dir.js';

const BIN = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

function mask(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, 'mask', ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

describe('gatehouse mask', () => {
  it('masks standard input with the default detectors when no config is given', async () => {
    const result = await mask(
      ['--counts'],
      'Mail mary.jones@example.com, call +1 415 555 2671\npassword=hunter2x ok\n',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Mail [EMAIL], call [PHONE]\npassword=[SECRET] ok\n');
    assert.deepEqual(JSON.parse(result.stderr), { email: 1, phone: 1, secret: 1 });
  });

  it("uses a resource's profile for the given groups", async () => {
    const dir = temporaryDirectory('gh-mask-cli-');
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      `identity: { devIssuer: { enabled: true } }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: http://127.0.0.1:9
    masking:
      detectors: [email]
      style: partial
      exempt: [auditors]
`,
    );
    const masked = await mask(['-c', file, '--resource', 'llm'], 'mary.jones@example.com +1 415 555 2671');
    assert.equal(masked.stdout, 'm***@example.com +1 415 555 2671');
    const exempt = await mask(['-c', file, '--resource', 'llm', '--groups', 'auditors'], 'mary.jones@example.com');
    assert.equal(exempt.stdout, 'mary.jones@example.com');
    assert.match(exempt.stderr, /exempt/);
    const missing = await mask(['-c', file, '--resource', 'nope'], 'x');
    assert.notEqual(missing.code, 0);
  });
});
