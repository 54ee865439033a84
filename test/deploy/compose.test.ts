import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';

const root = new URL('../..', import.meta.url);
const composeDir = new URL('deploy/compose/', root);
const read = (name: string) => readFileSync(new URL(name, composeDir), 'utf8');

interface Service {
  image?: string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}
const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

/** What .env.example holds: compose.yaml refuses to start without each (${VAR:?...}). */
const ENV = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => line.split('=', 2) as [string, string]),
);

describe('deploy/compose', () => {
  test('compose.yaml is valid against the Compose Specification JSON schema', () => {
    const schema = JSON.parse(readFileSync(new URL('test/fixtures/compose-spec/compose-spec.json', root), 'utf8'));
    // Draft-07 (ajv's default); its `$schema` spells the meta-schema's URL in a form ajv does not know by that name.
    delete schema.$schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const valid = validate(compose);
    assert.ok(valid, JSON.stringify(validate.errors, null, 2));
    // The check can fail: a misspelt key is refused.
    assert.equal(validate({ services: { a: { image: 'x', restart_policy: 'always' } } }), false);
  });

  test('docker-compose (Debian) resolves the file, its anchors and its ${VAR:?} references', () => {
    // scripts/install-test-deps.sh installs it (npm test runs that first): missing, this check fails, never skips.
    const which = spawnSync('sh', ['-c', 'command -v docker-compose']);
    assert.equal(which.status, 0, 'docker-compose is not installed (apt-get install docker-compose)');
    const run = (env: Record<string, string>) =>
      spawnSync('docker-compose', ['--profile', 'check', 'config', '-q'], {
        cwd: composeDir,
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      });
    const ok = run(ENV);
    assert.equal(ok.status, 0, ok.stderr);
    const missing = run({ ...ENV, GATEHOUSE_STORE_PASSWORD: '' });
    assert.notEqual(missing.status, 0, 'an unset password stops Compose');
    assert.match(missing.stderr, /GATEHOUSE_STORE_PASSWORD/);
  });

  test('two gateway replicas with the same image and config, behind nginx for HTTP and PostgreSQL', () => {
    const replicas = Object.entries(services).filter(([name]) => /^gatehouse-\d$/.test(name));
    assert.equal(replicas.length, 2);
    for (const [, replica] of replicas) {
      assert.equal(replica.image, 'gatehouse:local');
      assert.ok(replica.volumes?.includes('./gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro'));
      assert.equal(replica.depends_on?.store?.condition, 'service_healthy');
      assert.equal(replica.depends_on?.init?.condition, 'service_completed_successfully');
    }
    assert.match(services.lb?.image ?? '', /^nginx:/);
    assert.match(services.vectors?.image ?? '', /^pgvector\/pgvector:/);
    assert.match(services.store?.image ?? '', /^postgres:/);
    assert.deepEqual(services.llm?.entrypoint, ['node', '/app/dist/standins/openai.js']);
    const nginx = read('nginx.conf');
    const stream = /stream \{[\s\S]*?upstream gatehouse_postgres \{([\s\S]*?)\}/.exec(nginx)?.[1] ?? '';
    const http = /http \{[\s\S]*?upstream gatehouse_http \{([\s\S]*?)\}/.exec(nginx)?.[1] ?? '';
    for (const [name] of replicas) {
      assert.match(stream, new RegExp(`server ${name}:6432`), `${name} behind the TCP (PostgreSQL) balancer`);
      assert.match(http, new RegExp(`server ${name}:8080`), `${name} behind the HTTP balancer`);
    }
  });

  test("gatehouse.yaml passes the gateway's own validation, with the PostgreSQL store and secrets from the environment", () => {
    const env = {
      GATEHOUSE_STORE_URL: 'postgres://gatehouse:s3cret-store@store:5432/gatehouse',
      GATEHOUSE_VECTORS_PASSWORD: 's3cret-vectors',
      GATEHOUSE_LLM_API_KEY: 's3cret-llm',
      GATEHOUSE_LLM_URL: 'http://llm:8081',
    };
    const { config } = loadConfigFile(new URL('gatehouse.yaml', composeDir).pathname, env);
    assert.deepEqual(config.store, { postgres: { url: env.GATEHOUSE_STORE_URL } });
    const vectors = config.resources.find((r) => r.name === 'vectors');
    assert.equal(vectors?.protocol === 'postgres' && vectors.target.password, 's3cret-vectors');
    // No secret is written in the files themselves: every one is a reference.
    for (const file of ['gatehouse.yaml', 'compose.yaml']) {
      assert.doesNotMatch(read(file), /s3cret|change-me|^\s*\w*password:\s*[^$\s]/im, `${file} holds no secret value`);
    }
    assert.throws(() => loadConfigFile(new URL('gatehouse.yaml', composeDir).pathname, {}), /GATEHOUSE_STORE_URL/);
  });
});
