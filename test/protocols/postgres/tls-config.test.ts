import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { loadConfigFile } from '../../../src/config/load.js';
import { systemClock } from '../../../src/core/clock.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { DevIssuer } from '../../../src/identity/dev-issuer.js';
import { startPostgres, type TestPostgres } from '../../support/embedded-postgres.js';
import { postgresTargetYaml } from '../../support/gateway-config.js';

const run = promisify(execFile);

interface Running {
  readonly gateway: Gateway;
  readonly host: string;
  readonly port: number;
  mint(groups: readonly string[]): Promise<string>;
}

/**
 * `postgres.tls` in the config file (PEM paths relative to it) is what the listener serves, and
 * `allowPlaintextPassword` (default false) decides whether a token may arrive on plain TCP.
 */
describe('postgres TLS and plaintext policy from the config file', () => {
  let backend: TestPostgres;
  let dir: string;
  let certPem: string;
  const gateways: Gateway[] = [];

  async function startGateway(postgresSection: string): Promise<Running> {
    const file = join(dir, `gatehouse-${gateways.length}.yaml`);
    await writeFile(
      file,
      `
listen:
  postgres: 127.0.0.1:0
${postgresSection}
identity:
  devIssuer:
    enabled: true
    keyFile: state/dev-issuer.jwk.json
store:
  sqlite:
    path: state/audit-${gateways.length}.db
resources:
  - name: app
    protocol: postgres
${postgresTargetYaml(backend, 'TLS_TEST_PG_PASSWORD')}    policy:
      - groups: [readers]
        allow: [read]
`,
    );
    const loaded = loadConfigFile(file, { TLS_TEST_PG_PASSWORD: backend.password });
    const gateway = await Gateway.start(loaded, { logger: pino({ level: 'silent' }) });
    gateways.push(gateway);
    const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    const { host, port } = gateway.addresses.postgres as { host: string; port: number };
    return { gateway, host, port, mint: (groups) => issuer.mint({ subject: 'tls-job', groups, ttlMs: 600_000 }) };
  }

  const psql = (gw: Running, token: string, sslmode: string) =>
    run(
      'psql',
      [
        '-X',
        '-At',
        '-c',
        'select 40 + 2',
        `host=${gw.host} port=${gw.port} dbname=app user=agent sslmode=${sslmode} connect_timeout=10`,
      ],
      { env: { ...process.env, PGPASSWORD: token } },
    );

  before(async () => {
    backend = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-tls-config-'));
    await mkdir(join(dir, 'tls'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'tls', 'key.pem'),
      '-out',
      join(dir, 'tls', 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=gatehouse-tls-config-test',
    ]);
    certPem = await readFile(join(dir, 'tls', 'cert.pem'), 'utf8');
  });
  after(async () => {
    for (const gateway of gateways) await gateway.stop();
    await backend?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('with postgres.tls and the default allowPlaintextPassword (false)', () => {
    let gw: Running;
    before(async () => {
      gw = await startGateway('postgres:\n  tls:\n    cert: tls/cert.pem\n    key: tls/key.pem');
    });

    test('psql with sslmode=require logs in and queries', async () => {
      const { stdout } = await psql(gw, await gw.mint(['readers']), 'require');
      assert.equal(stdout.trim(), '42');
    });

    test('the listener presents the certificate named in the config', async () => {
      // SSLRequest by hand, then a TLS handshake on the same socket, to read the certificate the listener serves.
      const { createConnection } = await import('node:net');
      const socket = createConnection({ host: gw.host, port: gw.port });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      socket.write(request);
      const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      assert.equal(answer.toString(), 'S');
      const secure = tlsConnect({ socket, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      const served = secure.getPeerX509Certificate();
      secure.destroy();
      assert.ok(served);
      assert.equal(served.fingerprint256, new X509Certificate(certPem).fingerprint256);
    });

    test('psql with sslmode=disable is refused: tokens only inside TLS', async () => {
      await assert.rejects(psql(gw, await gw.mint(['readers']), 'disable'), (error: { stderr: string }) => {
        assert.match(error.stderr, /accepts tokens only over TLS/);
        return true;
      });
    });

    test('node-postgres on plain TCP gets SQLSTATE 28000; over TLS it gets in', async () => {
      const token = await gw.mint(['readers']);
      const config = { host: gw.host, port: gw.port, user: 'agent', password: token, database: 'app' };
      const plain = new pg.Client({ ...config, ssl: false });
      plain.on('error', () => undefined);
      await assert.rejects(plain.connect(), (error: { code?: string }) => error.code === '28000');
      const secure = new pg.Client({ ...config, ssl: { rejectUnauthorized: false } });
      await secure.connect();
      try {
        assert.equal((await secure.query('select 1 as one')).rows[0].one, 1);
      } finally {
        await secure.end();
      }
    });

    test('psql verifying the certificate against it (sslmode=verify-ca) gets in', async () => {
      const { stdout } = await run(
        'psql',
        [
          '-X',
          '-At',
          '-c',
          'select 42',
          `host=${gw.host} port=${gw.port} dbname=app user=agent sslmode=verify-ca sslrootcert=${join(dir, 'tls', 'cert.pem')}`,
        ],
        { env: { ...process.env, PGPASSWORD: await gw.mint(['readers']) } },
      );
      assert.equal(stdout.trim(), '42');
    });
  });

  describe('without postgres.tls', () => {
    test('plain TCP is refused with 28000 unless allowPlaintextPassword is set', async () => {
      const strict = await startGateway('');
      const token = await strict.mint(['readers']);
      // sslmode=prefer: the listener answers SSLRequest with N, and the token must not follow on plain TCP.
      await assert.rejects(psql(strict, token, 'prefer'), (error: { stderr: string }) =>
        /accepts tokens only over TLS/.test(error.stderr),
      );
      await assert.rejects(psql(strict, token, 'require'), (error: { stderr: string }) =>
        /server does not support SSL/.test(error.stderr),
      );
      const loopback = await startGateway('postgres:\n  allowPlaintextPassword: true');
      const { stdout } = await psql(loopback, await loopback.mint(['readers']), 'disable');
      assert.equal(stdout.trim(), '42');
    });
  });
});
