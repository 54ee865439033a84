import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { adminCall, freePort, type GatewayProcess, serveGateway } from './gateway-process.js';

/**
 * One gateway on its embedded SQLite store, killed (SIGKILL) while a PostgreSQL statement is held for review: after
 * the restart the review must not stay pending (an approval would run nothing), and nothing runs on the backend.
 */
describe('a statement held for review when its only gateway is killed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-held-crash-'));
  let backend: TestPostgres;
  let config: string;
  let gateway: GatewayProcess;
  let ports: { postgres: number; admin: number };
  let indexer: string;
  let owner: string;

  const backendQuery = async (text: string) => {
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };

  before(async () => {
    backend = await startPostgres();
    await backendQuery(`create table docs (id int primary key); insert into docs values (1), (2)`);
    ports = { postgres: await freePort(), admin: await freePort() };
    config = join(dir, 'gatehouse.yaml');
    writeFileSync(
      config,
      `listen: { postgres: 127.0.0.1:${ports.postgres}, admin: 127.0.0.1:${ports.admin} }
postgres: { allowPlaintextPassword: true }
log: { level: warn }
identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { sqlite: { path: audit.db } }
resources:
  - name: app
    protocol: postgres
    target: { host: 127.0.0.1, port: ${backend.port}, database: ${backend.database}, user: ${backend.user}, password: "\${env:BACKEND_PASSWORD}" }
    policy:
      - groups: [indexers]
        allow: [read, write]
        review: [delete-without-where]
        approvers: [data-owners]
`,
    );
    const loaded = parseConfig(readFileSync(config, 'utf8'), config, { BACKEND_PASSWORD: backend.password });
    const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
    indexer = await issuer.mint({ subject: 'indexer-job', groups: ['indexers'], ttlMs: 600_000 });
    owner = await issuer.mint({ subject: 'alice', groups: ['data-owners'], ttlMs: 600_000 });
  });

  after(async () => {
    await gateway?.stop('SIGKILL');
    await backend?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('withdraws the review after the restart; a late approval is refused and nothing runs', async () => {
    gateway = serveGateway(config, { BACKEND_PASSWORD: backend.password });
    await gateway.ready(ports.admin);
    const client = new pg.Client({
      host: '127.0.0.1',
      port: ports.postgres,
      user: 'agent',
      password: indexer,
      database: 'app',
    });
    client.on('error', () => undefined);
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    await client.connect();
    const held = client.query('DELETE FROM docs').catch((error: Error) => error);
    let id: string | undefined;
    for (let i = 0; i < 200 && id === undefined; i++) {
      id = notices.map((n) => /\b(rv_[0-9a-f]{16})\b/.exec(n)?.[1]).find((x) => x !== undefined);
      if (id === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(id, 'the statement is held for review');
    await gateway.stop('SIGKILL');
    assert.ok((await held) instanceof Error, 'the held statement did not complete');

    gateway = serveGateway(config, { BACKEND_PASSWORD: backend.password });
    await gateway.ready(ports.admin);
    const restartedAt = performance.now();
    let state = 'pending';
    while (state === 'pending' && performance.now() - restartedAt < 20_000) {
      await new Promise((r) => setTimeout(r, 250));
      state = ((await adminCall(ports.admin, `/api/reviews/${id}`, owner)).body.review as { state: string }).state;
    }
    console.log(`# review withdrawn ${(performance.now() - restartedAt).toFixed(0)} ms after the restart`);
    assert.equal(state, 'withdrawn');
    const late = await adminCall(ports.admin, `/api/reviews/${id}/approve`, owner, {});
    assert.equal(late.status, 409);
    assert.deepEqual(await backendQuery('select count(*)::int as n from docs'), [{ n: 2 }], 'nothing ran');
  });
});
