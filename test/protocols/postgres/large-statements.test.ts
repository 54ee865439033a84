import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

const MAX_STATEMENT = 4 * 1024 * 1024;
const BUDGET_MS = 300;

function inList(items: number): string {
  return `select count(*) as n from generate_series(1, 10) g where g in (${Array.from({ length: items }, (_, i) => i).join(',')})`;
}

function errorOf(client: RawClient): DatabaseError | undefined {
  return client.messages.find((m) => m.name === 'error') as DatabaseError | undefined;
}

/** Finding 8: caps before authentication, and large statements classified off the event loop within a budget. */
describe('postgres: denial-of-service caps', () => {
  let gw: PgGateway;
  let reader: string;

  before(async () => {
    gw = await startPgGateway({
      listener: { maxStatementBytes: MAX_STATEMENT, statementParseTimeoutMs: BUDGET_MS, parseInWorkerAbove: 4 * 1024 },
    });
    reader = await gw.mint('rag-bot', ['rag-readers']);
  });
  after(() => gw.stop());

  test('while a huge statement is classified, another session is served; the huge one ends with 54001', async () => {
    const huge = new pg.Client(gw.clientConfig(reader));
    const other = new pg.Client(gw.clientConfig(reader));
    await huge.connect();
    await other.connect();
    const order: string[] = [];
    // About 3.8 MB: its parse takes seconds, longer than the budget configured above.
    const refused = huge.query(inList(550_000)).then(
      () => order.push('huge ran'),
      (error: DatabaseError) => {
        order.push(`huge refused ${error.code}: ${error.message}`);
      },
    );
    const { rows } = await other.query('select 1 as one');
    order.push('select 1');
    assert.equal(rows[0].one, 1);
    await refused;
    assert.equal(order[0], 'select 1');
    assert.match(order[1] ?? '', /^huge refused 54001: .*could not be classified within 300 ms/);
    // The session that sent it goes on.
    assert.equal((await huge.query('select 2 as two')).rows[0].two, 2);
    await huge.end();
    await other.end();
  });

  test('a large statement within the budget is classified on the worker and runs (simple and extended)', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    await client.connect();
    const sql = inList(2_000);
    assert.ok(sql.length > 4 * 1024);
    assert.equal((await client.query(sql)).rows[0].n, '10');
    assert.equal((await client.query({ text: sql, values: [] })).rows[0].n, '10');
    await assert.rejects(client.query(`${sql}; delete from pg_class where false`), { code: '42501' });
    await client.end();
    const events = await gw.events();
    const runs = events.filter(
      (e) =>
        e.type === 'operation' &&
        String(e.payload['text']).startsWith('select count(*) as n from generate_series(1, 10) g where g in (0,1,2'),
    );
    assert.deepEqual(
      runs.map((e) => [e.payload['kind'], e.payload['verdict']]),
      [
        ['read', 'allow'],
        ['read', 'allow'],
        ['write', 'deny'],
      ],
    );
  });

  test('a statement over postgres.maxStatementBytes is refused with 54000, the session goes on', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    await client.connect();
    const sql = `select '${'x'.repeat(MAX_STATEMENT)}'`;
    await assert.rejects(client.query(sql), (error: DatabaseError) => {
      assert.equal(error.code, '54000');
      assert.match(error.message, /exceeds the limit/);
      return true;
    });
    await assert.rejects(client.query({ text: sql, values: [] }), { code: '54000' });
    assert.equal((await client.query('select 3 as three')).rows[0].three, 3);
    await client.end();
  });

  test('before authentication: a password message over 64 KiB and a startup packet over 10000 bytes are 54000', async () => {
    const client = await RawClient.open(gw.host, gw.port);
    client.write(serialize.startup({ user: 'agent', database: 'app' }));
    await client.until('authenticationCleartextPassword');
    client.write(serialize.password('x'.repeat(100 * 1024)));
    await client.closed;
    assert.equal(errorOf(client)?.code, '54000');
    assert.equal(errorOf(client)?.severity, 'FATAL');
    const startup = await RawClient.open(gw.host, gw.port);
    startup.write(serialize.startup({ user: 'agent', database: 'app', application_name: 'a'.repeat(20_000) }));
    await startup.closed;
    assert.equal(errorOf(startup)?.code, '54000');
    // A token of ordinary size still logs in.
    const ok = new pg.Client(gw.clientConfig(reader));
    await ok.connect();
    await ok.end();
  });
});
