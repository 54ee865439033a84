import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

const run = promisify(execFile);

/** Unmodified clients through the gateway against a real PostgreSQL server, with an OIDC token as the password. */
describe('postgres clients through the gateway', () => {
  let gw: PgGateway;
  let adminToken: string;
  let readerToken: string;

  before(async () => {
    gw = await startPgGateway();
    adminToken = await gw.mint('admin-bot', ['admins']);
    readerToken = await gw.mint('rag-bot', ['rag-readers']);
    const admin = await gw.admin();
    await admin.query('create table docs (id int primary key, body text, score float8)');
    await admin.query("insert into docs select g, 'doc ' || g, g / 10.0 from generate_series(1, 100) g");
    await admin.end();
  });
  after(() => gw.stop());

  test('node-postgres: simple and prepared queries', async () => {
    const client = new pg.Client(gw.clientConfig(readerToken));
    await client.connect();
    try {
      const simple = await client.query('select count(*)::int as n from docs');
      assert.equal(simple.rows[0].n, 100);
      const multi = await client.query('select 1 as a; select 2 as b');
      assert.equal((multi as unknown as pg.QueryResult[]).length, 2);
      for (const id of [3, 7, 3]) {
        const prepared = await client.query({
          name: 'by-id',
          text: 'select id, body from docs where id = $1',
          values: [id],
        });
        assert.deepEqual(prepared.rows, [{ id, body: `doc ${id}` }]);
      }
      const unnamed = await client.query('select $1::text || $2::text as joined', ['a', 'b']);
      assert.equal(unnamed.rows[0].joined, 'ab');
      const binary = await client.query({ text: 'select $1::bytea as b', values: [Buffer.from([0, 255, 1])] });
      assert.deepEqual(binary.rows[0].b, Buffer.from([0, 255, 1]));
      const many = await client.query('select * from docs order by id');
      assert.equal(many.rowCount, 100);
    } finally {
      await client.end();
    }
  });

  test('node-postgres: transactions, errors and the session stays usable', async () => {
    const client = new pg.Client(gw.clientConfig(adminToken));
    await client.connect();
    try {
      await client.query('begin');
      await client.query("insert into docs values (1000, 'tx', 0)");
      await assert.rejects(client.query('select 1/0'), { code: '22012' });
      await assert.rejects(client.query('select 1'), { code: '25P02' });
      await client.query('rollback');
      const { rows } = await client.query('select count(*)::int as n from docs where id = 1000');
      assert.equal(rows[0].n, 0);
    } finally {
      await client.end();
    }
  });

  test('postgres.js: pipelined queries keep their order', async () => {
    const sql = postgres({ ...gw.clientConfig(readerToken), max: 1, idle_timeout: 5, onnotice: () => undefined });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sql`select ${i + 1}::int as i, body from docs where id = ${i + 1}`),
      );
      for (const [i, rows] of results.entries()) assert.deepEqual([...rows], [{ i: i + 1, body: `doc ${i + 1}` }]);
      const unsafe = await sql.unsafe('select count(*)::int as n from docs');
      assert.equal(unsafe[0]?.n, 100);
    } finally {
      await sql.end();
    }
  });

  test('psql: \\d, a multi-statement, \\copy out and in', async () => {
    const env = { ...process.env, PGPASSWORD: adminToken, PGCONNECT_TIMEOUT: '10' };
    const psql = (...args: string[]) =>
      run(
        'psql',
        ['-X', '-v', 'ON_ERROR_STOP=1', '-h', gw.host, '-p', String(gw.port), '-U', 'agent', '-d', 'app', ...args],
        { env },
      );
    const described = await psql('-c', '\\d docs');
    assert.match(described.stdout, /Table "public\.docs"/);
    const multi = await psql('-At', '-c', 'select 40 + 1; select 42');
    assert.deepEqual(multi.stdout.trim().split('\n'), ['41', '42']);
    const copied = await psql('-c', '\\copy (select id, body from docs where id <= 3 order by id) to stdout');
    assert.equal(copied.stdout, '1\tdoc 1\n2\tdoc 2\n3\tdoc 3\n');
    await psql('-c', 'create table copied (id int, body text)');
    const input = '1\tone\n2\ttwo\n';
    const child = execFile(
      'psql',
      [
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        gw.host,
        '-p',
        String(gw.port),
        '-U',
        'agent',
        '-d',
        'app',
        '-c',
        '\\copy copied from stdin',
      ],
      { env },
    );
    child.stdin?.end(input);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    const back = await psql('-At', '-c', 'select id, body from copied order by id');
    assert.equal(back.stdout, '1|one\n2|two\n');
  });

  test('pgbench -S in simple, extended and prepared modes', async () => {
    const b = gw.backend;
    await run('pgbench', ['-i', '-q', '-s', '1', '-h', b.host, '-p', String(b.port), '-U', b.user, b.database], {
      env: { ...process.env, PGPASSWORD: b.password },
    });
    for (const mode of ['simple', 'extended', 'prepared']) {
      const { stdout } = await run(
        'pgbench',
        ['-n', '-S', '-t', '50', '-M', mode, '-h', gw.host, '-p', String(gw.port), '-U', 'agent', 'app'],
        { env: { ...process.env, PGPASSWORD: readerToken } },
      );
      assert.match(stdout, /number of transactions actually processed: 50\/50/, `pgbench -M ${mode}`);
      assert.match(stdout, /number of failed transactions: 0 /);
    }
  });
});
