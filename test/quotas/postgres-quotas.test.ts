import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { quotaContract } from './quota-contract.js';

let server: TestPostgres;
const databases: string[] = [];
before(async () => {
  server = await startPostgres();
});
after(async () => {
  if (server) {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    for (const name of databases) await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  }
  await server?.stop();
});

quotaContract('PostgreSQL', async () => {
  const name = `quotas_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  databases.push(name);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return async () => {
    const store = await PostgresStore.open(url.toString());
    await store.migrate(FEATURE_MIGRATIONS);
    return store;
  };
});
