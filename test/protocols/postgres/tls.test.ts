import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

const run = promisify(execFile);

/** With a certificate configured, SSLRequest is accepted and the token travels inside TLS. */
describe('postgres listener with TLS', () => {
  let gw: PgGateway;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
    ]);
    gw = await startPgGateway({ listener: { tls: { key: await readFile(key), cert: await readFile(cert) } } });
  });
  after(async () => {
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('node-postgres over TLS', async () => {
    const client = new pg.Client({
      ...gw.clientConfig(await gw.mint('tls-bot', ['rag-readers'])),
      ssl: { rejectUnauthorized: false },
    });
    await client.connect();
    try {
      assert.equal((await client.query('select 1 as one')).rows[0].one, 1);
    } finally {
      await client.end();
    }
  });

  test('psql with sslmode=require', async () => {
    const { stdout } = await run(
      'psql',
      ['-X', '-At', '-h', gw.host, '-p', String(gw.port), '-U', 'agent', '-d', 'app', '-c', 'select 41 + 1'],
      {
        env: { ...process.env, PGPASSWORD: await gw.mint('tls-bot', ['rag-readers']), PGSSLMODE: 'require' },
      },
    );
    assert.equal(stdout.trim(), '42');
  });
});
