import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from 'jose';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';
import { temporaryDirectory } from '../support/temp-dir.js';
import { runCli } from './cli-run.js';

/** `gatehouse token inspect` as a user runs it, against a real issuer serving its JWKS over HTTP. */
describe('gatehouse token inspect', () => {
  const dir = temporaryDirectory('gatehouse-inspect-');
  let issuer: LocalIssuer;
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (ref: string) => ({
    iss: 'https://token.actions.githubusercontent.com',
    aud: 'gatehouse',
    sub: `repo:acme/app:ref:${ref}`,
    repository: 'acme/app',
    repository_owner_id: '65',
    ref,
    iat: now(),
    exp: now() + 300,
  });

  before(async () => {
    issuer = await startLocalIssuer('https://token.actions.githubusercontent.com');
    writeFileSync(
      join(dir, 'gatehouse.yaml'),
      `identity:
  issuers:
    - issuer: https://token.actions.githubusercontent.com
      audience: gatehouse
      jwksUri: ${issuer.jwksUri}
      groups:
        - template: "repo:{repository}"
        - { group: deployers, when: { repository_owner_id: "65", ref: refs/heads/main } }
resources:
  - name: warehouse
    protocol: postgres
    target: { host: 127.0.0.1, database: w, user: ci }
    policy:
      - groups: [deployers]
        allow: [read, write]
      - claims: { repository: acme/app }
        allow: [read]
`,
    );
  });
  after(() => issuer.close());

  test('a verified token: subject, groups, and the rules that apply with what matched', async () => {
    const token = await issuer.sign(claims('refs/heads/main'));
    const result = await runCli(['token', 'inspect', '-c', 'gatehouse.yaml', token], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^verified: yes$/m);
    assert.match(result.stdout, /^subject: {2}repo:acme\/app:ref:refs\/heads\/main$/m);
    assert.match(result.stdout, /^groups: {3}deployers, repo:acme\/app$/m);
    assert.match(result.stdout, /resources\.warehouse\.policy\[0\]: allow read, write {2}\[matched group deployers\]/);
    assert.match(
      result.stdout,
      /resources\.warehouse\.policy\[1\]: allow read {2}\[matched claim repository=acme\/app\]/,
    );
  });

  test('from standard input, as JSON; a branch token gets no deployers', async () => {
    const token = await issuer.sign(claims('refs/heads/feature'));
    const result = await runCli(['token', 'inspect', '-c', 'gatehouse.yaml', '--json'], {
      cwd: dir,
      input: `Bearer ${token}\n`,
    });
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.equal(out.verified, true);
    assert.deepEqual(out.groups, ['repo:acme/app']);
    assert.deepEqual(
      out.resources[0].rules.map((r: { id: string }) => r.id),
      ['resources.warehouse.policy[1]'],
    );
  });

  test('a token signed by someone else is refused (exit 1, the reason), and --no-verify decodes it but says so', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await issuer.sign(claims('refs/heads/main'), { key: privateKey });
    const refused = await runCli(['token', 'inspect', '-c', 'gatehouse.yaml', forged], { cwd: dir });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^gatehouse: token refused \(bad-signature\): the signature does not verify/);
    const decoded = await runCli(['token', 'inspect', '-c', 'gatehouse.yaml', '--no-verify', forged], { cwd: dir });
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.match(decoded.stderr, /WARNING: --no-verify: the token is decoded, NOT verified/);
    assert.match(decoded.stdout, /^NOT VERIFIED: decoded only/m);
    assert.match(decoded.stdout, /^verified: NO$/m);
    assert.match(decoded.stdout, /^groups: {3}deployers, repo:acme\/app$/m);
  });
});
