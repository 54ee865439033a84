import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import { startPostgres, type TestPostgres } from '../../support/embedded-postgres.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

const READER_ROLE = 'gatehouse_reader';
const READER_PASSWORD = 'reader-secret-for-tests';

/**
 * Least privilege underneath: a classifier gap simulated by functions the classifier cannot see into, vouched for as
 * reads by a mistaken `readFunctions`, which write, run a program or change a superuser setting. Sessions of callers who
 * may only read use the resource's read-only login, so the server itself refuses.
 */
describe('postgres: read-only sessions use the read-only login', () => {
  let backend: TestPostgres;
  let gw: PgGateway;
  let dir: string;

  before(async () => {
    backend = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-lp-'));
    await chmod(dir, 0o777);
    const admin = new pg.Client({ connectionString: backend.url });
    await admin.connect();
    await admin.query(`
      create table items (id int primary key, name text);
      insert into items values (1, 'one');
      create role ${READER_ROLE} login password '${READER_PASSWORD}';
      grant select on items to ${READER_ROLE};
      create function add_item() returns int language plpgsql as $$
        begin insert into items values (2, 'two'); return 2; end $$;
      create function run_program(path text) returns int language plpgsql as $$
        begin execute format('copy (select 1) to program %L', 'touch ' || path || '; cat > /dev/null'); return 1; end $$;
      create function quiet_log() returns text language sql as $$ select set_config('log_statement', 'none', false) $$;
    `);
    await admin.end();
    gw = await startPgGateway({
      backend,
      resourceYaml: `
    readFunctions: [add_item, run_program, quiet_log]`,
      targetYaml: `
      readOnlyLogin:
        user: ${READER_ROLE}
        password: ${READER_PASSWORD}`,
    });
  });
  after(async () => {
    await gw?.stop();
    await backend?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a reader logs in as the read-only role, with default_transaction_read_only on; a writer as the resource user', async () => {
    const reader = new pg.Client(gw.clientConfig(await gw.mint('rag-bot', ['rag-readers'])));
    await reader.connect();
    const { rows } = await reader.query('select current_user as who');
    assert.equal(rows[0].who, READER_ROLE);
    assert.equal(
      (await reader.query('show default_transaction_read_only')).rows[0].default_transaction_read_only,
      'on',
    );
    await reader.end();
    const writer = new pg.Client(gw.clientConfig(await gw.mint('indexer', ['indexers'])));
    await writer.connect();
    assert.equal((await writer.query('select current_user as who')).rows[0].who, backend.user);
    await writer.end();
  });

  test('what the gateway lets through as a read cannot write, run a program or change a superuser setting', async () => {
    const reader = new pg.Client(gw.clientConfig(await gw.mint('rag-bot', ['rag-readers'])));
    await reader.connect();
    const canary = join(dir, 'canary');
    const attempts = ['select add_item()', `select run_program('${canary}')`, 'select quiet_log()'];
    for (const sql of attempts) {
      await assert.rejects(reader.query(sql), (error: DatabaseError) => {
        // 25006 read-only transaction, 42501 insufficient privilege: the server's refusals, not the gateway's.
        assert.ok(['25006', '42501'].includes(error.code ?? ''), `${sql}: ${error.code} ${error.message}`);
        assert.doesNotMatch(error.message, /^gatehouse/, sql);
        return true;
      });
    }
    await reader.end();
    const admin = await gw.admin();
    try {
      assert.equal((await admin.query('select count(*)::int as n from items')).rows[0].n, 1);
    } finally {
      await admin.end();
    }
    assert.equal(existsSync(canary), false);
  });

  test('control: through the resource login (a writer), the same functions do write and run the program', async () => {
    const writer = new pg.Client(gw.clientConfig(await gw.mint('indexer', ['indexers'])));
    await writer.connect();
    const canary = join(dir, 'control');
    await writer.query(`select run_program('${canary}')`);
    await writer.query('select add_item()');
    assert.equal((await writer.query('select quiet_log() as v')).rows[0].v, 'none');
    await writer.query('delete from items where id = 2');
    await writer.end();
    assert.ok(existsSync(canary));
  });
});
