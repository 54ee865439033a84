import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { DatabaseError, NoticeMessage } from 'pg-protocol/dist/messages.js';
import { startPostgres, type TestPostgres } from '../../support/embedded-postgres.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

/** Analysts may read and write, but a statement the planner thinks big waits for a data owner; others are unlimited. */
const POLICY = `
      - groups: [analysts]
        allow: [read, write]
        maxCost: 500
        maxRows: 100
        approvers: [data-owners]
      - groups: [plain]
        allow: [read, write]
      - groups: [limited-readers]
        allow: [read]
        maxCost: 500
`;

/** Through the real gateway: `maxCost` / `maxRows` decided on the backend's own EXPLAIN of the statement. */
describe('planner thresholds through the gateway', () => {
  let backend: TestPostgres;
  let gw: PgGateway;
  let analyst: string;
  let plain: string;
  let limitedReader: string;
  let serverLog = '';

  const direct = <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => gw.withAdmin(fn);
  const connect = (token: string): Promise<pg.Client> => gw.connect(token);
  /** The statement is held for review (a notice naming it) and, unapproved, fails without running. */
  const held = async (client: pg.Client, sql: string, values?: unknown[]): Promise<void> => {
    const notice = new Promise<NoticeMessage>((resolve) => client.once('notice', resolve));
    const result = client.query(sql, values);
    result.catch(() => undefined);
    const ran = result.then(() => {
      throw new Error(`${sql} ran without review`);
    });
    assert.match((await Promise.race([notice, ran])).message ?? '', /review rv_[0-9a-f]{16} is waiting/, sql);
    await assert.rejects(result, (error: DatabaseError) => /was not run/.test(error.message), sql);
  };

  /** The last review names the threshold that sent it, the figure over the limit. */
  const assertThreshold = async (limitName: string, measured = true): Promise<void> => {
    const created = (await gw.events()).filter((e) => e.type === 'review' && e.payload['event'] === 'created');
    const review = await gw.services.approvals.reviews.get(String(created.at(-1)?.payload['reviewId']));
    const threshold = review?.cause.threshold;
    assert.equal(threshold?.limitName, limitName, JSON.stringify(review?.cause));
    // An unmeasured figure is Infinity (stored as JSON null, read back as Infinity).
    if (measured) assert.ok((threshold?.value ?? 0) > (threshold?.limit ?? Infinity));
    else assert.equal(threshold?.value, Number.POSITIVE_INFINITY);
  };

  before(async () => {
    backend = await startPostgres({ onLog: (text) => (serverLog += text) });
    gw = await startPgGateway({ backend, policy: POLICY, topLevelYaml: 'approvals:\n  postgresWait: 1s' });
    analyst = await gw.mint('ana', ['analysts']);
    plain = await gw.mint('pat', ['plain']);
    limitedReader = await gw.mint('lee', ['limited-readers']);
    await direct(async (c) => {
      await c.query('create table big (id int primary key, v int)');
      await c.query('insert into big select g, g from generate_series(1, 100000) g');
      await c.query('analyze big');
      // Every statement the gateway's backend sessions run is logged: shows which EXPLAINs were sent.
      await c.query(`alter role ${backend.user} set log_statement = 'all'`);
    });
  });
  after(async () => {
    await gw?.stop();
    await backend?.stop();
  });

  test('a whole-table scan is held by maxCost; a narrow read runs at once on the same session', async () => {
    const client = await connect(analyst);
    try {
      await held(client, 'select sum(v) from big');
      const narrow = await client.query('select v from big where id = 5');
      assert.deepEqual(narrow.rows, [{ v: 5 }]);
      // The EXPLAIN's answer never reached the client: one column, the statement's own.
      assert.deepEqual(
        narrow.fields.map((f) => f.name),
        ['v'],
      );
    } finally {
      await client.end();
    }
    await assertThreshold('maxCost');
  });

  test('an UPDATE over maxRows is held and changes nothing; a narrow one runs at once', async () => {
    const client = await connect(analyst);
    try {
      await held(client, 'update big set v = -1 where id <= 5000');
      const changed = await direct(
        async (c) => (await c.query('select count(*)::int as n from big where v = -1')).rows[0].n,
      );
      assert.equal(changed, 0, 'the wide UPDATE did not run');
      const narrow = await client.query('update big set v = -1 where id = 7');
      assert.equal(narrow.rowCount, 1);
    } finally {
      await client.end();
    }
    await assertThreshold('maxRows');
  });

  test('extended protocol: the EXPLAIN plans with the bound parameters; a wide one is held, a narrow one runs', async () => {
    const client = await connect(analyst);
    try {
      await held(client, 'update big set v = -3 where id <= $1', [5000]);
      await held(client, 'select sum(v) from big where id > $1', [0]);
      const changed = await direct(
        async (c) => (await c.query('select count(*)::int as n from big where v = -3')).rows[0].n,
      );
      assert.equal(changed, 0, 'the wide UPDATE did not run');
      // Planned for the value 5, not a default selectivity (a generic plan guesses a third of the table).
      const narrow = await client.query('update big set v = v where id <= $1', [5]);
      assert.equal(narrow.rowCount, 5);
      const read = await client.query('select v from big where id = $1', [9]);
      assert.deepEqual(read.rows, [{ v: 9 }]);
      assert.deepEqual(
        read.fields.map((f) => f.name),
        ['v'],
        'the EXPLAIN answer never reached the client',
      );
    } finally {
      await client.end();
    }
    await assertThreshold('maxCost');
  });

  test('extended protocol: an EXPLAIN that fails is the statement failing; the batch and the session go on right', async () => {
    const client = await connect(analyst);
    try {
      // Planned with its value, 1/$1 folds to a division by zero: the client's statement fails as it would.
      await assert.rejects(
        client.query('select 1 / $1::int as x', [0]),
        (error: DatabaseError) => error.code === '22012',
      );
      assert.deepEqual((await client.query('select 1 / $1::int as x', [1])).rows, [{ x: 1 }]);
      await client.query('begin');
      assert.equal((await client.query('update big set v = -4 where id = $1', [11])).rowCount, 1);
      await assert.rejects(
        client.query('select 1 / $1::int as x', [0]),
        (error: DatabaseError) => error.code === '22012',
      );
      await assert.rejects(client.query('select $1::int', [1]), (error: DatabaseError) => error.code === '25P02');
      await client.query('rollback');
      const v = await direct(async (c) => (await c.query('select v from big where id = 11')).rows[0].v);
      assert.equal(v, 11, 'the block was rolled back');
      assert.deepEqual((await client.query('select v from big where id = $1', [12])).rows, [{ v: 12 }]);
    } finally {
      await client.end();
    }
  });

  test('an EXPLAIN stopped by a timeout (or a cancel) leaves the statement over its limits: held, not run', async () => {
    const client = await connect(analyst);
    const locker = await gw.admin();
    try {
      await client.query("set statement_timeout = '300ms'");
      await locker.query('begin');
      await locker.query('lock table big in access exclusive mode');
      // The EXPLAIN waits for the lock and times out; the lock is gone before the review ends.
      const release = new Promise((resolve) => setTimeout(resolve, 700)).then(() => locker.query('rollback'));
      await held(client, 'update big set v = -2 where id = 3');
      await release;
      const v = await direct(async (c) => (await c.query('select v from big where id = 3')).rows[0].v);
      assert.equal(v, 3, 'the narrow UPDATE did not run');
    } finally {
      await client.end();
      await locker.end();
    }
    await assertThreshold('maxCost', false);
  });

  test('inside a transaction block an EXPLAIN that fails leaves the client only its own error', async () => {
    const client = await connect(analyst);
    try {
      await client.query('begin');
      await client.query('insert into big values (200001, 1)');
      // The planner folds 1/0 and fails: the EXPLAIN's error is not the client's, the statement's own is.
      await assert.rejects(client.query('select 1/0 as x'), (error: DatabaseError) => error.code === '22012');
      await client.query('rollback');
      // The savepoint left nothing behind: a new block works, and sees the table as it was.
      await client.query('begin');
      const seen = await client.query('select v from big where id = 200001');
      assert.equal(seen.rowCount, 0);
      await client.query('commit');
    } finally {
      await client.end();
    }
  });

  test('no EXPLAIN is sent for a caller no threshold applies to', {
    skip: process.env.GATEHOUSE_TEST_PG_URL !== undefined,
  }, async () => {
    const unlimited = await connect(plain);
    const limited = await connect(analyst);
    try {
      await unlimited.query('select count(*) from big where id < 10 /* unlimited-marker */');
      await limited.query('select count(*) from big where id < 10 /* limited-marker */');
    } finally {
      await unlimited.end();
      await limited.end();
    }
    for (let i = 0; i < 50 && !serverLog.includes('limited-marker */\n;'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(serverLog, /EXPLAIN \(FORMAT JSON\) select count\(\*\) from big where id < 10 \/\* limited-marker/);
    assert.match(serverLog, /statement: select count\(\*\) from big where id < 10 \/\* unlimited-marker/);
    assert.doesNotMatch(
      serverLog,
      /EXPLAIN \(FORMAT JSON\) select count\(\*\) from big where id < 10 \/\* unlimited-marker/,
    );
  });

  test('no EXPLAIN is sent for a statement policy denies anyway (planning may evaluate functions)', {
    skip: process.env.GATEHOUSE_TEST_PG_URL !== undefined,
  }, async () => {
    const reader = await connect(limitedReader);
    try {
      await assert.rejects(
        reader.query('delete from big where id < 10 /* denied-marker */'),
        (error: DatabaseError) => {
          assert.equal(error.code, '42501');
          return true;
        },
      );
      await reader.query('select count(*) from big where id < 10 /* allowed-marker */');
    } finally {
      await reader.end();
    }
    for (let i = 0; i < 50 && !serverLog.includes('allowed-marker */\n'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(serverLog, /EXPLAIN \(FORMAT JSON\) select count\(\*\) from big where id < 10 \/\* allowed-marker/);
    assert.doesNotMatch(serverLog, /denied-marker/);
  });
});
