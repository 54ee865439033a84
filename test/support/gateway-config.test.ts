import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeGatehouseConfig } from '../../bench/lib/gatehouse.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { gatewayConfigYaml, postgresTargetYaml } from './gateway-config.js';
import { temporaryDirectory } from './temp-dir.js';

const dir = temporaryDirectory('gh-config-helper-');
const load = (yaml: string, env: Record<string, string> = {}) => parseConfig(yaml, join(dir, 'gatehouse.yaml'), env);

describe('gatewayConfigYaml: the one way tests and bench/ write a gateway config', () => {
  it('writes issuers, the dev issuer and the SQLite store as the config loader reads them', () => {
    const { config } = load(
      gatewayConfigYaml({
        logLevel: 'silent',
        devIssuer: { keyFile: 'dev.jwk.json', maxTokenLifetime: '2h' },
        issuers: [
          // A value YAML would misread unquoted (`: ` and ` #`) arrives intact.
          {
            issuer: 'http://127.0.0.1:1/a: b #c',
            audience: 'aud',
            jwksUri: 'http://127.0.0.1:1/jwks',
            algorithms: ['ES256'],
          },
        ],
        store: { spool: false },
        body: 'listen: { http: 127.0.0.1:0 }\n',
      }),
    );
    assert.equal(config.log.level, 'silent');
    assert.equal(config.identity.devIssuer.enabled, true);
    assert.equal(config.identity.devIssuer.maxTokenLifetime, 2 * 3_600_000);
    assert.equal(config.identity.issuers[0]?.issuer, 'http://127.0.0.1:1/a: b #c');
    assert.deepEqual(config.identity.issuers[0]?.algorithms, ['ES256']);
    assert.deepEqual(config.store, { sqlite: { path: 'audit.db', spool: false } });
    assert.deepEqual(config.listen.http, { host: '127.0.0.1', port: 0 });
  });

  it('writes a shared PostgreSQL store and a PostgreSQL target whose password comes from the environment', () => {
    const backend = { host: '127.0.0.1', port: 5999, database: 'app', user: 'owner' };
    const { config } = load(
      gatewayConfigYaml({
        issuers: [{ issuer: 'https://issuer.test', audience: 'aud', algorithms: ['RS256'] }],
        store: { postgresUrl: 'postgres://store@127.0.0.1:5998/gh', instanceId: 'r1' },
        body: `resources:\n  - name: app\n    protocol: postgres\n${postgresTargetYaml(backend, 'PW')}    policy: []\n`,
      }),
      { PW: 'from-env' },
    );
    assert.deepEqual(config.store, {
      postgres: { url: 'postgres://store@127.0.0.1:5998/gh', instanceId: 'r1', writerThread: false },
    });
    assert.equal(config.identity.devIssuer.enabled, false);
    const target = config.resources[0]?.protocol === 'postgres' ? config.resources[0].target : undefined;
    assert.equal(target?.password, 'from-env');
    assert.equal(target?.port, 5999);
  });

  it('is what bench/ writes for its gateway processes', () => {
    const path = writeGatehouseConfig(dir, 'listen: { postgres: 127.0.0.1:0 }\n');
    const { config } = loadConfigFile(path);
    assert.equal(config.log.level, 'warn');
    assert.equal(config.identity.devIssuer.enabled, true);
    assert.deepEqual(config.store, { sqlite: { path: 'audit.db', spool: true } });
  });
});
