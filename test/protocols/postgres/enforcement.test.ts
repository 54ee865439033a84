import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import postgres from 'postgres';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

const READER_RULE = 'resources.app.policy[0]';

/** Every statement is decided before the backend sees it; refusals look like the server's own errors. */
describe('postgres policy enforcement', () => {
  let gw: PgGateway;
  let reader: string;
  let indexer: string;

  const docCount = async (): Promise<number> => {
    const admin = await gw.admin();
    try {
      return (await admin.query('select count(*)::int as n from docs')).rows[0].n;
    } finally {
      await admin.end();
    }
  };

  const connect = async (token: string): Promise<pg.Client> => {
    const client = new pg.Client(gw.clientConfig(token));
    await client.connect();
    return client;
  };

  before(async () => {
    gw = await startPgGateway();
    reader = await gw.mint('rag-bot', ['rag-readers']);
    indexer = await gw.mint('index-bot', ['indexers']);
    const admin = await gw.admin();
    await admin.query('create table docs (id int primary key, body text)');
    await admin.query("insert into docs select g, 'doc ' || g from generate_series(1, 10) g");
    await admin.end();
  });
  after(() => gw.stop());

  test('a reader running DELETE gets 42501 naming the rule, and the session stays usable', async () => {
    const client = await connect(reader);
    try {
      await assert.rejects(client.query('delete from docs where id = 1'), (error: pg.DatabaseError) => {
        assert.equal(error.code, '42501');
        assert.match(error.message, /permission denied for DELETE/);
        assert.ok(error.message.includes(READER_RULE), error.message);
        assert.equal(error.detail, `gatehouse rule: ${READER_RULE}`);
        return true;
      });
      assert.equal((await client.query('select count(*)::int as n from docs')).rows[0].n, 10);
    } finally {
      await client.end();
    }
    assert.equal(await docCount(), 10, 'the denied statement never reached the backend');
  });

  test('denial in the extended protocol (prepared statement), re-decided on every Execute', async () => {
    const client = await connect(reader);
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(client.query({ name: 'del', text: 'delete from docs where id = $1', values: [2] }), {
          code: '42501',
        });
        const ok = await client.query({ name: 'sel', text: 'select body from docs where id = $1', values: [2] });
        assert.deepEqual(ok.rows, [{ body: 'doc 2' }]);
      }
    } finally {
      await client.end();
    }
    assert.equal(await docCount(), 10);
  });

  test('a refusal inside a transaction block aborts it, as a server error would', async () => {
    const client = await connect(reader);
    try {
      await client.query('begin');
      await client.query('select 1');
      await assert.rejects(client.query('delete from docs'), { code: '42501' });
      await assert.rejects(client.query('select 1'), { code: '25P02' });
      const rolledBack = await client.query('commit');
      assert.equal(rolledBack.command, 'ROLLBACK');
      await client.query('begin');
      await assert.rejects(client.query({ text: 'delete from docs where id = $1', values: [3] }), { code: '42501' });
      await assert.rejects(client.query({ text: 'select $1::int', values: [1] }), { code: '25P02' });
      await client.query('rollback');
      assert.equal((await client.query('select 1 as one')).rows[0].one, 1);
    } finally {
      await client.end();
    }
  });

  test('postgres.js pipeline with one denied statement: the others keep their order', async () => {
    const sql = postgres({ ...gw.clientConfig(reader), max: 1, onnotice: () => undefined });
    try {
      const results = await Promise.allSettled([
        sql`select 1::int as v`,
        sql`select 2::int as v`,
        sql`delete from docs where id = ${4}`,
        sql`select 3::int as v`,
        sql`select body from docs where id = ${4}`,
      ]);
      const values = results.map((r) => (r.status === 'fulfilled' ? r.value[0] : (r.reason as { code: string }).code));
      assert.deepEqual(values, [{ v: 1 }, { v: 2 }, '42501', { v: 3 }, { body: 'doc 4' }]);
    } finally {
      await sql.end();
    }
    assert.equal(await docCount(), 10);
  });

  test('a refused Execute in a batch with one Sync: error in place, rest skipped, implicit transaction rolled back', async () => {
    const client = await RawClient.login(gw.host, gw.port, indexer);
    try {
      client.write(
        serialize.parse({ text: "insert into docs values (20, 'batch')" }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: 'delete from docs' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: 'select 1' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
        serialize.query('select count(*) from docs where id = 20'),
      );
      await client.until('readyForQuery', 2);
      assert.deepEqual(client.names(), [
        'parseComplete',
        'bindComplete',
        'commandComplete',
        'parseComplete',
        'bindComplete',
        'error',
        'readyForQuery',
        'rowDescription',
        'dataRow',
        'commandComplete',
        'readyForQuery',
      ]);
      const error = client.messages[5] as DatabaseError;
      assert.equal(error.code, '42501');
      assert.match(error.message, /requires approval/);
      const row = client.messages[8] as unknown as { fields: string[] };
      assert.deepEqual(row.fields, ['0'], 'the INSERT before the refusal was rolled back with the batch');
    } finally {
      client.close();
    }
    assert.equal(await docCount(), 10);
  });

  test('DELETE without WHERE from an indexer is refused as needing approval; with WHERE it runs', async () => {
    const client = await connect(indexer);
    try {
      await assert.rejects(client.query('delete from docs'), (error: pg.DatabaseError) => {
        assert.equal(error.code, '42501');
        assert.match(error.message, /requires approval/);
        assert.match(error.hint ?? '', /approver/);
        return true;
      });
      assert.equal(await docCount(), 10);
      await client.query("insert into docs values (11, 'new')");
      const deleted = await client.query('delete from docs where id = $1', [11]);
      assert.equal(deleted.rowCount, 1);
    } finally {
      await client.end();
    }
  });

  test('SQL PREPARE/EXECUTE is classified by what was prepared', async () => {
    const client = await connect(reader);
    try {
      await client.query('prepare sel(int) as select body from docs where id = $1');
      assert.deepEqual((await client.query('execute sel(5)')).rows, [{ body: 'doc 5' }]);
      // Preparing a DELETE is decided as the DELETE; EXECUTE of a name the gateway never saw prepared is unknown.
      await assert.rejects(client.query('prepare wipe as delete from docs'), { code: '42501' });
      await assert.rejects(client.query('execute wipe'), { code: '42501' });
      await client.query('deallocate sel');
      await assert.rejects(client.query('execute sel(5)'), { code: '42501' });
    } finally {
      await client.end();
    }
    assert.equal(await docCount(), 10);
  });

  test('read-only callers get a read-only backend session (defence in depth)', async () => {
    for (const [token, expected] of [
      [reader, 'on'],
      [indexer, 'off'],
    ] as const) {
      const client = await connect(token);
      try {
        assert.equal(
          (await client.query('show default_transaction_read_only')).rows[0].default_transaction_read_only,
          expected,
        );
      } finally {
        await client.end();
      }
    }
  });

  test('every statement is in the audit log with kind, verdict and rule; results with rows', async () => {
    const client = await connect(reader);
    await client.query("select 'audit-marker', id from docs where id <= 3");
    await client.query('delete from docs where id = 9').catch(() => undefined);
    await client.end();
    const events = await gw.events();
    const operations = events.filter((e) => e.type === 'operation');
    const select = operations.find((e) => String(e.payload['text']).includes('audit-marker'));
    assert.ok(select);
    assert.equal(select.payload['kind'], 'read');
    assert.equal(select.payload['verdict'], 'allow');
    assert.equal(select.payload['rule'], READER_RULE);
    const result = events.find(
      (e) =>
        e.type === 'operation.result' && e.sessionId === select.sessionId && e.payload['seq'] === select.payload['seq'],
    );
    assert.equal(result?.payload['outcome'], 'ok');
    assert.equal(result?.payload['rows'], 3);
    const denied = operations.find((e) => e.payload['text'] === 'delete from docs where id = 9');
    assert.equal(denied?.payload['kind'], 'write');
    assert.equal(denied?.payload['verdict'], 'deny');
    assert.equal(denied?.payload['rule'], READER_RULE);
    const sessionEnd = events.find((e) => e.type === 'session.end' && e.sessionId === select.sessionId);
    assert.equal(sessionEnd?.payload['reason'], 'client terminated');
    assert.ok(!JSON.stringify(events).includes(reader), 'the token never reaches the audit log');
  });

  /**
   * A slow audit disk: records are written as usual, but the gateway hears they are durable only when the test
   * opens the gate. Returns the gate's opener and a restore function.
   */
  const slowAudit = () => {
    const record = gw.recorder.record;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    gw.recorder.record = (event, options) => {
      const durable = record.call(gw.recorder, event, options);
      return event.type === 'operation' ? durable.then(() => gate) : durable;
    };
    return { open, restore: () => (gw.recorder.record = record) };
  };

  /** Waits until the backend finished a statement whose text holds `marker` (it is idle after it). */
  const backendRan = async (marker: string): Promise<void> => {
    const admin = await gw.admin();
    try {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query(
          "select 1 from pg_stat_activity where pid <> pg_backend_pid() and state = 'idle' and query like $1",
          [`%${marker}%`],
        );
        if (rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`the backend never ran the statement marked ${marker}`);
    } finally {
      await admin.end();
    }
  };

  test('a plain read runs while its record is written; its rows wait until the record is durable', async () => {
    const client = await connect(reader);
    const audit = slowAudit();
    try {
      let answered = false;
      const query = client.query("select 'overlap-marker' as m, body from docs where id = 3").then((result) => {
        answered = true;
        return result;
      });
      await backendRan('overlap-marker');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(answered, false, 'no row leaves before the record is durable');
      audit.open();
      const result = await query;
      assert.deepEqual(result.rows, [{ m: 'overlap-marker', body: 'doc 3' }]);
    } finally {
      audit.restore();
      await client.end();
    }
  });

  test('a write waits for its record before the backend sees it', async () => {
    const client = await connect(indexer);
    const audit = slowAudit();
    try {
      const insert = client.query("insert into docs values (20, 'gated write')");
      await new Promise((resolve) => setTimeout(resolve, 200));
      const admin = await gw.admin();
      try {
        const count = async () => (await admin.query('select count(*)::int as n from docs where id = 20')).rows[0].n;
        assert.equal(await count(), 0, 'not run before its record is durable');
        audit.open();
        await insert;
        assert.equal(await count(), 1);
        await admin.query('delete from docs where id = 20');
      } finally {
        await admin.end();
      }
    } finally {
      audit.restore();
      await client.end();
    }
  });

  test('when a plain read cannot be recorded, its rows are withheld and the session ends', async () => {
    const client = await connect(reader);
    client.on('error', () => undefined);
    const record = gw.recorder.record;
    gw.recorder.record = (event, options) =>
      event.type === 'operation' ? Promise.reject(new Error('disk full')) : record.call(gw.recorder, event, options);
    try {
      await assert.rejects(
        client.query("select 'withheld-marker' as m, body from docs where id = 4"),
        (error: DatabaseError) => {
          assert.equal(error.code, 'XX000');
          assert.match(error.message, /could not be recorded, so its result was withheld/);
          return true;
        },
      );
      // The session is over: nothing later on it can release what was withheld.
      await assert.rejects(client.query('select 1'));
    } finally {
      gw.recorder.record = record;
      await client.end().catch(() => undefined);
    }
  });

  test('when the audit log cannot record, statements do not run', async () => {
    const client = await connect(indexer);
    try {
      await gw.recorder.close();
      await assert.rejects(client.query("insert into docs values (12, 'unrecorded')"), { code: '58000' });
      await assert.rejects(client.query({ text: 'insert into docs values ($1, $2)', values: [13, 'x'] }), {
        code: '58000',
      });
    } finally {
      await client.end();
    }
    const admin = await gw.admin();
    try {
      assert.equal((await admin.query('select count(*)::int as n from docs where id >= 12')).rows[0].n, 0);
    } finally {
      await admin.end();
    }
  });
});
