import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generate } from 'selfsigned';
import { ConfigError, type ConfigIssue, parseConfig } from '../../src/config/load.js';
import { preflightIssues } from '../../src/config/preflight.js';
import { temporaryDirectory } from '../support/temp-dir.js';

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseConfig(text, '/tmp/gatehouse.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.issues];
  }
  assert.fail('expected the config to be refused');
}

const DEV = 'identity: { devIssuer: { enabled: true } }\n';

describe('configuration diagnostics', () => {
  test('YAML syntax errors name the line and column and what is wrong', () => {
    const [issue] = issuesOf('identity:\n  devIssuer: { enabled: true\nresources: []\n');
    assert.equal(issue?.line, 3);
    assert.equal(typeof issue?.column, 'number');
    assert.match(issue?.message ?? '', /^YAML syntax error: \S/);
  });

  test('unknown keys: one issue each, at the key, with the key probably meant', () => {
    const issues = issuesOf(
      `${DEV}listen:\n  postgress: 6432\n  htp: 8080\nresources:\n  - { name: db, protocol: postgres, target: { host: h, database: d, user: u, pasword: x } }\n`,
    );
    const byPath = new Map(issues.map((i) => [i.path, i]));
    assert.match(byPath.get('listen.postgress')?.message ?? '', /did you mean "postgres"\?/);
    assert.equal(byPath.get('listen.postgress')?.line, 3);
    assert.equal(byPath.get('listen.postgress')?.column, 3);
    assert.match(byPath.get('listen.htp')?.message ?? '', /did you mean "http"\?/);
    // Inside one variant of a union (resources by protocol) the suggestion comes from that variant's keys.
    assert.match(byPath.get('resources[0].target.pasword')?.message ?? '', /did you mean "password"\?/);
    // Nothing close: no guess.
    assert.doesNotMatch(issuesOf(`${DEV}zzzzzzzz: 1\n`)[0]?.message ?? '', /did you mean/);
  });

  test('preflight: missing files, a key that is not the certificate’s, a review without approvers; nothing on a good config', async () => {
    const dir = temporaryDirectory('gatehouse-preflight-');
    const a = await generate([{ name: 'commonName', value: 'a' }], { keySize: 2048, algorithm: 'sha256' });
    const b = await generate([{ name: 'commonName', value: 'b' }], { keySize: 2048, algorithm: 'sha256' });
    writeFileSync(join(dir, 'a-cert.pem'), a.cert);
    writeFileSync(join(dir, 'a-key.pem'), a.private);
    writeFileSync(join(dir, 'b-key.pem'), b.private);
    const check = (tls: string, approvers: string) =>
      preflightIssues(
        parseConfig(
          `${DEV}postgres:\n  tls: ${tls}\nresources:\n  - name: db\n    protocol: postgres\n    target: { host: h, database: d, user: u }\n    policy:\n      - { groups: [w], allow: [write], review: [drop]${approvers} }\n`,
          join(dir, 'gatehouse.yaml'),
        ),
      ).map((i) => `${i.path}${i.line === undefined ? '' : `@${i.line}`}: ${i.message}`);
    assert.deepEqual(check('{ cert: a-cert.pem, key: a-key.pem }', ', approvers: [owners]'), []);
    const problems = check('{ cert: missing.pem, key: b-key.pem }', '');
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0] ?? '', /^postgres\.tls\.cert@3: cannot read .*missing\.pem \(no such file\)$/);
    assert.match(problems[1] ?? '', /^resources\[0\]\.policy\[0\]@9: .*names no approvers/);
    assert.match(
      check('{ cert: a-cert.pem, key: b-key.pem }', ', approvers: [o]').join(),
      /does not belong to the certificate/,
    );
  });
});
