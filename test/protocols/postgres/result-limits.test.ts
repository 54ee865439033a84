import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import type { AuditEvent } from '../../../src/core/audit-event.js';
import { startPostgres, type TestPostgres } from '../../support/embedded-postgres.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

const run = promisify(execFile);

/** Masked callers' rows are cut as anyone's, masked up to the cut. */
const MASKING = `
    masking:
      columns:
        - column: people.email
          type: email
          style: redact
      exempt: [copiers]
`;

const POLICY = `
      - groups: [row-limited]
        allow: [read, write]
        maxResultRows: 10
      - groups: [byte-limited]
        allow: [read]
        maxResultBytes: 5000
      - groups: [session-limited]
        allow: [read]
        maxSessionResultRows: 25
`;

/** Through the real gateway: results over `maxResultRows` / `maxResultBytes` are cut, and the session goes on. */
describe('result limits on the PostgreSQL path', () => {
  let backend: TestPostgres;
  let gw: PgGateway;
  let rowLimited: string;
  /** Row-limited too, but exempt from masking: COPY TO STDOUT cannot be masked, so masked callers cannot use it. */
  let rowLimitedCopier: string;
  let byteLimited: string;
  let sessionLimited: string;

  const direct = <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => gw.withAdmin(fn);
  const connect = (token: string): Promise<pg.Client> => gw.connect(token);
  /** The statement fails with the gateway's cut, naming the limit. */
  const cut = async (result: Promise<unknown>, limit: RegExp): Promise<DatabaseError> => {
    let caught: DatabaseError | undefined;
    await assert.rejects(result, (error: DatabaseError) => {
      caught = error;
      return true;
    });
    assert.equal(caught?.code, '54000', caught?.message);
    assert.match(caught?.message ?? '', limit);
    return caught as DatabaseError;
  };
  /** Runs `sql`, keeping the rows the client received before any error. */
  const streamed = (client: pg.Client, sql: string, rows: unknown[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const query = client.query(new pg.Query(sql));
      query.on('row', (row: unknown) => rows.push(row));
      query.on('error', reject);
      query.on('end', () => resolve());
    });
  /** The result record of the statement whose text holds `marker`. */
  const resultOf = async (marker: string): Promise<AuditEvent['payload']> => {
    const events = await gw.events();
    const operation = events.find((e) => e.type === 'operation' && String(e.payload['text']).includes(marker));
    assert.ok(operation, `no record of ${marker}`);
    const result = events.find(
      (e) =>
        e.type === 'operation.result' &&
        e.sessionId === operation.sessionId &&
        e.payload['seq'] === operation.payload['seq'],
    );
    assert.ok(result, `no result record of ${marker}`);
    return result.payload;
  };

  before(async () => {
    backend = await startPostgres();
    gw = await startPgGateway({ backend, policy: POLICY, resourceYaml: MASKING });
    rowLimited = await gw.mint('rob', ['row-limited']);
    rowLimitedCopier = await gw.mint('cora', ['row-limited', 'copiers']);
    byteLimited = await gw.mint('bea', ['byte-limited']);
    sessionLimited = await gw.mint('sam', ['session-limited']);
    await direct(async (c) => {
      await c.query('create table items (id int primary key, v int)');
      await c.query('insert into items select g, g from generate_series(1, 100) g');
      await c.query('create table people (id int primary key, email text)');
      await c.query("insert into people select g, 'person' || g || '@example.com' from generate_series(1, 30) g");
    });
  });
  after(async () => {
    await gw?.stop();
    await backend?.stop();
  });

  test('simple Query: the rows up to the limit are sent, then the error; the session goes on; the record says where', async () => {
    const client = await connect(rowLimited);
    const rows: unknown[] = [];
    try {
      await cut(
        streamed(client, 'select id from items order by id /* cut-simple */', rows),
        /cut after 10 rows .*maxResultRows 10/,
      );
      assert.equal(rows.length, 10, 'the rows before the limit reached the client');
      const next = await client.query('select count(*)::int as n from items');
      assert.deepEqual(next.rows, [{ n: 100 }], 'one row, under the limit');
      // Exactly at the limit is not over it.
      const ten = await client.query('select id from items where id <= 10');
      assert.equal(ten.rowCount, 10);
    } finally {
      await client.end();
    }
    const record = await resultOf('cut-simple');
    assert.equal(record['outcome'], 'error');
    assert.equal(record['rows'], 10);
    assert.match(String(record['error']), /^54000: .*cut after 10 rows.*; the backend completed the statement$/);
  });

  test('a large scan is cancelled on the backend, not read to its end', async () => {
    const client = await connect(rowLimited);
    const started = Date.now();
    try {
      // Read whole, this is minutes of rows; cut and cancelled, it ends at once. (In the select list the series
      // streams; in FROM it would be built whole before the first row.)
      await cut(
        client.query("select generate_series(1, 200000000) as g, repeat('x', 200) /* cut-large */"),
        /maxResultRows 10/,
      );
      assert.deepEqual((await client.query('select 1 as one')).rows, [{ one: 1 }]);
      const active = await direct(
        async (c) =>
          (
            await c.query(
              "select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%generate\\_series(1, 200000000)%' and pid <> pg_backend_pid()",
            )
          ).rows[0].n,
      );
      assert.equal(active, 0, 'the backend no longer runs the scan');
    } finally {
      await client.end();
    }
    assert.ok(Date.now() - started < 20_000, 'the cut statement did not run to its end');
    assert.match(String((await resultOf('cut-large'))['error']), /the backend statement was stopped$/);
  });

  test('inside a transaction block the cut fails the block: COMMIT keeps nothing of the statement', async () => {
    const client = await connect(rowLimited);
    try {
      await client.query('begin');
      await client.query('update items set v = -5 where id = 1');
      await cut(client.query('update items set v = -1 returning id /* cut-block */'), /maxResultRows 10/);
      // The block is failed, as after any error the server raises.
      await assert.rejects(client.query('select 1'), (error: DatabaseError) => error.code === '25P02');
      const commit = await client.query('commit');
      assert.equal(commit.command, 'ROLLBACK', 'a failed block commits nothing');
      const changed = await direct(
        async (c) => (await c.query('select count(*)::int as n from items where v < 0')).rows[0].n,
      );
      assert.equal(changed, 0, 'neither UPDATE of the block was kept');
      // The session is usable after.
      await client.query('begin');
      assert.equal((await client.query('update items set v = v where id <= 3')).rowCount, 3);
      await client.query('commit');
    } finally {
      await client.end();
    }
  });

  test('extended protocol: a parameterised result is cut; the next statements work', async () => {
    const client = await connect(rowLimited);
    try {
      await cut(
        client.query('select id from items where id > $1 order by id /* cut-extended */', [0]),
        /cut after 10 rows .*maxResultRows 10/,
      );
      const next = await client.query('select id from items where id = $1', [42]);
      assert.deepEqual(next.rows, [{ id: 42 }]);
      await client.query('begin');
      await cut(client.query('select id from items where id > $1', [50]), /maxResultRows 10/);
      await assert.rejects(client.query('select $1::int', [1]), (error: DatabaseError) => error.code === '25P02');
      await client.query('rollback');
      assert.equal((await client.query('select $1::int as x', [7])).rows[0].x, 7);
    } finally {
      await client.end();
    }
    const record = await resultOf('cut-extended');
    assert.equal(record['rows'], 10);
    assert.match(String(record['error']), /^54000: /);
  });

  test('extended protocol: a cut UPDATE ... RETURNING outside a block is rolled back, not committed', async () => {
    const client = await connect(rowLimited);
    try {
      await cut(
        client.query('update items set v = -9 where id <= $1 returning id /* cut-write */', [50]),
        /cut after 10 rows .*maxResultRows 10/,
      );
      const changed = await direct(
        async (c) => (await c.query('select count(*)::int as n from items where v = -9')).rows[0].n,
      );
      assert.equal(changed, 0, 'the UPDATE the client was told failed changed nothing');
      // Under the limit the same kind of statement commits as usual.
      assert.equal((await client.query('update items set v = v where id <= $1 returning id', [3])).rowCount, 3);
      assert.deepEqual((await client.query('select $1::int as x', [1])).rows, [{ x: 1 }]);
    } finally {
      await client.end();
    }
    assert.match(String((await resultOf('cut-write'))['error']), /its transaction is failed before Sync|was stopped/);
  });

  test('a portal fetched in pieces (Execute with a row count) counts on across its Executes', async () => {
    // postgres.js fetches a cursor as Execute with a row count of 4 (PortalSuspended until the portal ends). Run in
    // a child process: postgres.js also leaves the cursor's error as an unhandled rejection of its own.
    const script = `
import postgres from "postgres";
process.on('unhandledRejection', () => undefined);
// fetch_types: postgres.js's own catalog query at connect returns hundreds of rows, which the limit would cut.
const sql = postgres({ ...JSON.parse(process.env.GH_PG), max: 1, idle_timeout: 5, fetch_types: false, onnotice: () => undefined });
const received = [];
const error = await sql\`select id from items where id > \${0} order by id\`
  .cursor(4, (rows) => { for (const row of rows) received.push(row.id); })
  .then(() => undefined, (e) => ({ code: e.code, message: e.message }));
// postgres.js hands the rows of a batch that ended in an error to the next query (a server error does the same).
const after = await sql\`select count(*)::int as n from items where id <= \${5}\`;
await sql.end();
console.log(JSON.stringify({ error, received, after: after.at(-1)?.n }));
`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, GH_PG: JSON.stringify(gw.clientConfig(rowLimited)) },
    });
    const out = JSON.parse(stdout) as { error?: { code: string; message: string }; received: number[]; after: number };
    assert.equal(out.error?.code, '54000', JSON.stringify(out.error));
    assert.match(out.error?.message ?? '', /cut after 10 rows .*maxResultRows 10/);
    // Two whole pieces of 4 went out; the third was cut after its 2nd row, at 10 for the portal.
    assert.deepEqual(out.received, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(out.after, 5, 'the session works after');
  });

  test('psql: COPY TO STDOUT is cut as rows are; a multi-statement message stops at the cut', async () => {
    const psql = (command: string) =>
      run('psql', ['-X', '-At', '-h', gw.host, '-p', String(gw.port), '-U', 'rob', '-d', 'app', '-c', command], {
        env: { ...process.env, PGPASSWORD: rowLimitedCopier, PGCONNECT_TIMEOUT: '10' },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const copied = await psql('\\copy (select id from items order by id) to stdout');
    assert.notEqual(copied.code, 0);
    assert.equal(copied.stdout.trim().split('\n').length, 10, 'ten rows went out');
    assert.match(copied.stderr, /cut after 10 rows .*maxResultRows 10/);
    // One Query holding reads only: cut at the first statement's limit, the rest withheld.
    const reads = await psql('select id from items order by id; select 1');
    assert.match(reads.stderr, /maxResultRows 10/);
    // A change behind a statement whose result may be cut could not be stopped in time: refused whole.
    const multi = await psql('select id from items; update items set v = -7 where id = 50');
    assert.match(multi.stderr, /may not follow another one/);
    const v = await direct(async (c) => (await c.query('select v from items where id = 50')).rows[0].v);
    assert.equal(v, 50, 'the UPDATE behind the limited statement did not run');
  });

  test('psycopg pipeline: an UPDATE pipelined behind a limited read in one batch is refused, not run', async () => {
    const script = `
import json, os
import psycopg
out = {}
with psycopg.connect(os.environ["GH_DSN"], password=os.environ["GH_TOKEN"], autocommit=True) as conn:
    try:
        with conn.pipeline():
            conn.execute("select id from items where id > %s order by id", (0,))
            conn.execute("update items set v = -8 where id = %s", (60,))
    except psycopg.Error as error:
        out["error"] = {"sqlstate": error.sqlstate, "message": error.diag.message_primary}
    out["after"] = conn.execute("select v from items where id = %s", (61,)).fetchone()[0]
print(json.dumps(out))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script], {
      env: {
        ...process.env,
        GH_DSN: `host=${gw.host} port=${gw.port} dbname=app user=rob sslmode=disable`,
        GH_TOKEN: rowLimited,
      },
    });
    const out = JSON.parse(stdout) as { error?: { sqlstate: string; message: string }; after: number };
    assert.ok(out.error !== undefined, 'the batch failed');
    assert.ok(['54000', '42501'].includes(out.error.sqlstate), JSON.stringify(out.error));
    assert.equal(out.after, 61, 'the session works after');
    const v = await direct(async (c) => (await c.query('select v from items where id = 60')).rows[0].v);
    assert.equal(v, 60, 'the pipelined UPDATE did not run');
  });

  test('masked rows are cut the same way: masked up to the cut, nothing raw after it', async () => {
    const client = await connect(rowLimited);
    try {
      for (const parameters of [undefined, [0]]) {
        const rows: { email: string }[] = [];
        const sql =
          parameters === undefined
            ? 'select id, email from people order by id'
            : 'select id, email from people where id > $1 order by id';
        await cut(
          new Promise<void>((resolve, reject) => {
            const query = client.query(new pg.Query(sql, parameters));
            query.on('row', (row: { email: string }) => rows.push(row));
            query.on('error', reject);
            query.on('end', () => resolve());
          }),
          /maxResultRows 10/,
        );
        assert.equal(rows.length, 10);
        assert.ok(
          rows.every((r) => !r.email.includes('@example.com')),
          JSON.stringify(rows.slice(0, 2)),
        );
      }
      assert.equal((await client.query('select email from people where id = $1', [3])).rowCount, 1);
    } finally {
      await client.end();
    }
  });

  test('maxResultBytes cuts by the bytes of the rows', async () => {
    const client = await connect(byteLimited);
    const rows: unknown[] = [];
    try {
      await cut(
        streamed(client, "select repeat('x', 1000) as x from generate_series(1, 100)", rows),
        /over maxResultBytes 5000/,
      );
      // Each DataRow is 1011 bytes: four fit under 5000.
      assert.equal(rows.length, 4);
      assert.equal((await client.query("select repeat('y', 100) as y")).rowCount, 1);
    } finally {
      await client.end();
    }
  });

  test('maxSessionResultRows counts every statement of the session, a cursor fetched in pieces too', async () => {
    const client = await connect(sessionLimited);
    try {
      await client.query('begin');
      await client.query('declare c cursor for select id from items order by id');
      assert.equal((await client.query('fetch 10 from c')).rowCount, 10);
      assert.equal((await client.query('fetch 10 from c')).rowCount, 10);
      await cut(client.query('fetch 10 from c'), /over maxSessionResultRows 25/);
      await client.query('rollback');
    } finally {
      await client.end();
    }
    // A new session starts from nothing.
    const fresh = await connect(sessionLimited);
    try {
      assert.equal((await fresh.query('select id from items where id <= 20')).rowCount, 20);
    } finally {
      await fresh.end();
    }
  });
});
