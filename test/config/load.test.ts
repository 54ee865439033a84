import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';
import { temporaryDirectory } from '../support/temp-dir.js';

const minimal = `
identity:
  devIssuer: { enabled: true }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: http://127.0.0.1:9
    credential: { value: "Bearer \${env:UPSTREAM_KEY}" }
    policy:
      - groups: [readers]
        allow: [read]
`;

function issuesOf(text: string, env: Record<string, string> = { UPSTREAM_KEY: 'k' }) {
  try {
    parseConfig(text, '/tmp/gatehouse.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.issues;
  }
  assert.fail('the configuration was accepted');
}

describe('configuration loading', () => {
  it('accepts a minimal config, applies defaults and resolves env references', () => {
    const { config } = parseConfig(minimal, '/tmp/gatehouse.yaml', { UPSTREAM_KEY: 'sk-upstream' });
    const llm = config.resources[0];
    assert.equal(llm?.protocol, 'http');
    assert.equal(llm?.protocol === 'http' && llm.credential?.value, 'Bearer sk-upstream');
    assert.equal(llm?.protocol === 'http' && llm.timeouts.headers, 60_000);
    assert.deepEqual(config.store, { sqlite: { path: '.gatehouse/gatehouse.db', spool: true } });
    assert.equal(config.identity.devIssuer.maxTokenLifetime, 3_600_000);
  });

  it('names a missing environment variable with its path and line, without the value', () => {
    const issues = issuesOf(minimal, {});
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, 'resources[0].credential.value');
    assert.equal(issues[0]?.line, 9);
    assert.match(issues[0]?.message ?? '', /UPSTREAM_KEY is not set/);
  });

  it('uses an env fallback when the variable is unset', () => {
    const text = minimal.replace('${env:UPSTREAM_KEY}', '${env:UPSTREAM_KEY:-fallback-key}');
    const { config } = parseConfig(text, '/tmp/g.yaml', {});
    const llm = config.resources[0];
    assert.equal(llm?.protocol === 'http' && llm.credential?.value, 'Bearer fallback-key');
  });

  it('reads file references relative to the config file', () => {
    const dir = temporaryDirectory('gh-config-');
    writeFileSync(join(dir, 'key.txt'), 'from-file\n');
    writeFileSync(join(dir, 'gatehouse.yaml'), minimal.replace('${env:UPSTREAM_KEY}', '${file:key.txt}'));
    const { config } = loadConfigFile(join(dir, 'gatehouse.yaml'), {});
    const llm = config.resources[0];
    assert.equal(llm?.protocol === 'http' && llm.credential?.value, 'Bearer from-file');
  });

  it('reports each mistake with its path and what was expected', () => {
    const broken = `
listen:
  http: "not-an-address"
identity:
  devIssuer: { enabled: true }
  issuers:
    - issuer: https://idp.example
      audience: gatehouse
      algorithms: [HS256]
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ftp://nowhere
    policy:
      - groups: [readers]
        allow: [raed]
  - name: db
    protocol: mysql
`;
    const issues = issuesOf(broken);
    const byPath = new Map(issues.map((i) => [i.path, i]));
    assert.match(byPath.get('listen.http')?.message ?? '', /host:port/);
    assert.equal(byPath.get('listen.http')?.line, 3);
    assert.ok(byPath.has('identity.issuers[0].algorithms[0]'), 'HMAC algorithms are refused');
    assert.match(byPath.get('resources[0].target')?.message ?? '', /http/);
    assert.match(byPath.get('resources[0].policy[0].allow[0]')?.message ?? '', /operation kind/);
    assert.equal(byPath.get('resources[0].policy[0].allow[0]')?.line, 17);
    assert.match(byPath.get('resources[1].protocol')?.message ?? '', /http, postgres or mcp/);
  });

  it('refuses unknown keys, duplicate resources and a config with no issuer', () => {
    const issues = issuesOf(`
resources:
  - { name: a, protocol: http, pathPrefix: /a, target: "http://x", colour: red }
  - { name: a, protocol: http, pathPrefix: /b, target: "http://y" }
`);
    const paths = issues.map((i) => i.path);
    // Reported at the unknown key itself, so the line and column point at it.
    assert.ok(paths.includes('resources[0].colour'), `unknown key reported: ${paths}`);
    assert.ok(paths.includes('resources[1].name'), 'duplicate name reported');
    assert.ok(paths.includes('identity.issuers'), 'missing issuer reported');
  });

  it('reports YAML syntax errors and unreadable files', () => {
    assert.match(issuesOf('resources: [\n')[0]?.message ?? '', /YAML syntax/);
    assert.throws(() => loadConfigFile('/nonexistent/gatehouse.yaml'), /no such file: give -c FILE/);
  });
});
