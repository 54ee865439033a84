import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { generate } from 'selfsigned';
import { temporaryDirectory } from '../support/temp-dir.js';
import { type CliResult, runCli } from './cli-run.js';

/**
 * Each ordinary mistake, made for real against the real command: one line on stderr, starting `gatehouse: `, no
 * stack trace, and the documented exit code (README, CLI section).
 */
const dir = temporaryDirectory('gatehouse-cli-');
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return name;
};

const RESOURCE = `
resources:
  - name: db
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [readers]
        allow: [read]
      - groups: [writers]
        allow: [read, write]
        review: [delete-without-where]
        approvers: [owners]
`;

function oneLine(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  assert.match(result.stderr, /^gatehouse: [^\n]+\n$/, `exactly one line on stderr, got:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\bat .+:\d+:\d+\)?$/m, 'no stack trace');
  assert.match(result.stderr, pattern);
}

const cli = (...args: string[]) => runCli(args, { cwd: dir });

describe('gatehouse CLI mistakes: one line, documented exit code', () => {
  before(() => {
    file('dev.yaml', `identity: { devIssuer: { enabled: true, keyFile: dev-key.json } }\n${RESOURCE}`);
    file(
      'no-dev.yaml',
      `identity:\n  issuers: [ { issuer: https://token.actions.githubusercontent.com, audience: gatehouse } ]\n${RESOURCE}`,
    );
  });

  test('an unknown flag: 2', async () => {
    oneLine(await cli('token', 'mint', '-c', 'dev.yaml', '--sub', 'a', '--colour'), 2, /unknown option '--colour'/);
  });

  test('an unknown command: 2', async () => {
    oneLine(await cli('frobnicate'), 2, /unknown command 'frobnicate'/);
  });

  test('a missing config file: 2, naming -c and GATEHOUSE_CONFIG', async () => {
    oneLine(
      await cli('config', 'check', '-c', 'nope.yaml'),
      2,
      /nope\.yaml: no such file: give -c FILE, or set GATEHOUSE_CONFIG/,
    );
  });

  test('token mint with a config without the development issuer: 2, naming the setting', async () => {
    oneLine(await cli('token', 'mint', '-c', 'no-dev.yaml', '--sub', 'a'), 2, /set identity\.devIssuer\.enabled: true/);
  });

  test('token mint with a TTL over the maximum: 2, naming the maximum and the setting', async () => {
    oneLine(
      await cli('token', 'mint', '-c', 'dev.yaml', '--sub', 'a', '--ttl', '5h'),
      2,
      /--ttl 5h is over .* maximum token lifetime of 1h.*identity\.devIssuer\.maxTokenLifetime/,
    );
    oneLine(
      await cli('token', 'mint', '-c', 'dev.yaml', '--sub', 'a', '--ttl', 'soon'),
      2,
      /--ttl: expected a duration/,
    );
  });

  test('policy explain on a resource that does not exist: 2, listing the ones that do', async () => {
    oneLine(
      await cli('policy', 'explain', '-c', 'dev.yaml', '--resource', 'dbb', '--sql', 'SELECT 1'),
      2,
      /no resource named "dbb" \(resources in the config: db\)/,
    );
  });

  test('policy explain exits 0 on allow, 3 on deny, 4 on review, with the JSON on stdout', async () => {
    const explain = (groups: string, sql: string) =>
      cli('policy', 'explain', '-c', 'dev.yaml', '--resource', 'db', '--groups', groups, '--sql', sql);
    const allow = await explain('readers', 'SELECT 1');
    assert.equal(allow.code, 0, allow.stderr);
    assert.equal(JSON.parse(allow.stdout).decision, 'allow');
    const deny = await explain('readers', 'DELETE FROM t WHERE id = 1');
    assert.equal(deny.code, 3, deny.stderr);
    assert.equal(JSON.parse(deny.stdout).decision, 'deny');
    const review = await explain('writers', 'DELETE FROM t');
    assert.equal(review.code, 4, review.stderr);
    assert.equal(JSON.parse(review.stdout).decision, 'review');
  });

  test('a YAML syntax error: 2, with line and column', async () => {
    file('broken.yaml', 'identity:\n  devIssuer: { enabled: true\nresources: []\n');
    oneLine(await cli('config', 'check', '-c', 'broken.yaml'), 2, /broken\.yaml:\d+:\d+: YAML syntax error: /);
  });

  test('an unknown key: 2, suggesting the key probably meant', async () => {
    file('typo.yaml', `identity: { devIssuer: { enabled: true } }\nlisten:\n  postgress: 6432\n${RESOURCE}`);
    oneLine(
      await cli('config', 'check', '-c', 'typo.yaml'),
      2,
      /typo\.yaml:3:3: listen\.postgress: unknown key "postgress" \(did you mean "postgres"\?\)/,
    );
  });

  test('serve with a missing TLS file: 2 before anything listens, naming the file', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    file('key.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    file(
      'tls.yaml',
      `identity: { devIssuer: { enabled: true } }\npostgres:\n  tls: { cert: cert.pem, key: key.pem }\n${RESOURCE}`,
    );
    oneLine(
      await cli('serve', '-c', 'tls.yaml'),
      2,
      /tls\.yaml:3:\d+: postgres\.tls\.cert: cannot read .*cert\.pem \(no such file\)/,
    );
  });

  test('config check: a TLS key that is not the certificate’s, and a review without approvers', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
    file('cert.pem', pems.cert);
    oneLine(
      await cli('config', 'check', '-c', 'tls.yaml'),
      2,
      /postgres\.tls\.key: this key does not belong to the certificate/,
    );
    file('own-key.pem', pems.private);
    file(
      'no-approvers.yaml',
      `identity: { devIssuer: { enabled: true } }\npostgres:\n  tls: { cert: cert.pem, key: own-key.pem }\n${RESOURCE.replace('        approvers: [owners]\n', '')}`,
    );
    oneLine(
      await cli('config', 'check', '-c', 'no-approvers.yaml'),
      2,
      /resources\[0\]\.policy\[1\]: .*names no approvers: add approvers/,
    );
    const ok = await cli('config', 'check', '-c', 'dev.yaml');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /dev\.yaml: ok/);
  });

  test('token inspect with a token no issuer accepts: 1, saying why', async () => {
    oneLine(await cli('token', 'inspect', '-c', 'dev.yaml', 'not-a-token'), 1, /token refused \(malformed\)/);
  });

  test('output piped to a reader that has gone (`| head`): exits 0 quietly', async () => {
    const result = await runCli(['--help'], { cwd: dir, closeStdout: true });
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    const explain = await runCli(
      ['policy', 'explain', '-c', 'dev.yaml', '--resource', 'db', '--groups', 'readers', '--sql', 'SELECT 1'],
      {
        cwd: dir,
        closeStdout: true,
      },
    );
    assert.equal(explain.stderr, '');
    assert.equal(explain.code, 0);
  });
});
