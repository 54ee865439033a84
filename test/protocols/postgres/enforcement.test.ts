import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import postgres from 'postgres';
import { buildTimeline } from '../../../src/audit/replay.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

const READER_RULE = 'resources.app.policy[0]';

/** A promise and what settles it (Promise.withResolvers, which Node 20 lacks). */
function opener(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** Every statement is decided before the backend sees it; refusals look like the server's own errors. */
describe('postgres policy enforcement', () => {
  let gw: PgGateway;
  let reader: string;
  let indexer: string;

  /** The error of a statement that ran while its record was written, when the record failed. */
  const withheld = (error: DatabaseError): boolean => {
    assert.equal(error.code, 'XX000');
    assert.match(error.message, /could not be recorded, so its result was withheld/);
    return true;
  };

  /** Rows of a query run directly at the backend, as its superuser. */
  const adminRows = async (text: string, values?: unknown[]) => {
    const admin = await gw.admin();
    try {
      return (await admin.query(text, values)).rows;
    } finally {
      await admin.end();
    }
  };
  const docCount = async (): Promise<number> => (await adminRows('select count(*)::int as n from docs'))[0].n;
  const bodyOf = async (id: number): Promise<string> =>
    (await adminRows('select body from docs where id = $1', [id]))[0].body;

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
   * opens the gate (only those of statements holding `marker`, when given). Returns the gate's opener and a restore
   * function.
   */
  const slowAudit = (marker?: string) => {
    const record = gw.recorder.record;
    const { promise: gate, resolve: open } = opener();
    gw.recorder.record = (event, options) => {
      const durable = record.call(gw.recorder, event, options);
      const slow =
        event.type === 'operation' && (marker === undefined || String(event.payload['text']).includes(marker));
      return slow ? durable.then(() => gate) : durable;
    };
    return { open, restore: () => (gw.recorder.record = record) };
  };

  /** Waits until the backend finished a statement whose text holds `marker` (it is idle after it), or is in `state`. */
  const backendRan = async (marker: string, state = "state = 'idle'"): Promise<void> => {
    const admin = await gw.admin();
    try {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query(
          `select 1 from pg_stat_activity where pid <> pg_backend_pid() and ${state} and query like $1`,
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

  test('a read larger than what waits for its record is held whole, then relayed intact', async () => {
    const client = await connect(reader);
    const audit = slowAudit();
    try {
      let answered = false;
      const admin = await gw.admin();
      await admin.query(
        'create table if not exists big_docs as select g, repeat(md5(g::text), 8) as pad from generate_series(1, 3000) g',
      );
      await admin.end();
      // A plain read (no function call): it runs while its record is written.
      const text = "select 'big-marker' as m, g, pad from big_docs order by g";
      const query = client.query(text).then((result) => {
        answered = true;
        return result;
      });
      // Past the bound the gateway stops reading: the rest waits in the socket, or the backend waits to write it.
      await backendRan('big-marker', "(state = 'idle' or wait_event = 'ClientWrite')");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(answered, false, 'no row leaves before the record is durable');
      audit.open();
      const result = await query;
      assert.equal(result.rows.length, 3000);
      assert.deepEqual(
        result.rows.map((r) => r.g),
        Array.from({ length: 3000 }, (_, i) => i + 1),
      );
      assert.ok(result.rows.every((r) => r.m === 'big-marker' && r.pad.length === 256));
      assert.equal((await client.query("select 'after' as m")).rows[0].m, 'after');
    } finally {
      audit.restore();
      await client.end();
    }
    const results = (await gw.events()).filter((e) => e.type === 'operation.result' && e.payload['rows'] === 3000);
    assert.equal(results.length, 1, 'its result is recorded');
  });

  test('a read whose result is in before its record is written is recorded as one event, released once durable', async () => {
    const other = await connect(reader);
    const client = await connect(reader);
    // A slow disk under another session's write: the next store write waits for the test, and records queued
    // meanwhile wait for it (one write at a time).
    const store = gw.store;
    const recordEvents = store.recordEvents;
    const { promise: disk, resolve: openDisk } = opener();
    let held = false;
    store.recordEvents = async (events) => {
      if (!held) {
        held = true;
        await disk;
      }
      return recordEvents.call(store, events);
    };
    const amend = gw.recorder.amend;
    const { promise: foldedOnce, resolve: folded } = opener();
    gw.recorder.amend = (event, fields) => {
      const joined = amend.call(gw.recorder, event, fields);
      if (joined) folded();
      return joined;
    };
    try {
      const first = other.query("select 'disk-marker' as m");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(held, true, "the other session's record is being written");
      let answered = false;
      const query = client.query("select 'fold-marker' as m, body from docs where id = 5").then((result) => {
        answered = true;
        return result;
      });
      // Its record waits behind the held write; the backend answers meanwhile and the result joins the record.
      await Promise.race([
        foldedOnce,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('the result never joined the queued record')), 10_000).unref(),
        ),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(answered, false, 'no row leaves before the record is durable');
      openDisk();
      assert.deepEqual((await query).rows, [{ m: 'fold-marker', body: 'doc 5' }]);
      await first;
    } finally {
      store.recordEvents = recordEvents;
      gw.recorder.amend = amend;
      openDisk();
      await client.end();
      await other.end();
    }
    await gw.recorder.flush();
    const stored = await gw.store.readEvents(0, 100_000);
    const operation = stored.find((e) => e.type === 'operation' && String(e.payload['text']).includes('fold-marker'));
    assert.ok(operation, 'the operation was recorded');
    assert.deepEqual(operation.payload['result'], {
      durationMs: (operation.payload['result'] as { durationMs: number }).durationMs,
      outcome: 'ok',
      rows: 1,
      bytesOut: (operation.payload['result'] as { bytesOut: number }).bytesOut,
      response: { columns: ['m', 'body'], rows: [['fold-marker', 'doc 5']], tags: ['SELECT 1'] },
    });
    const sameSession = stored.filter((e) => e.sessionId === operation.sessionId);
    assert.deepEqual(
      sameSession.map((e) => e.type),
      ['session.start', 'operation', 'session.end'],
      'one event for the statement and its result',
    );
    // Readers see the operation and its result, as if recorded apart.
    const timeline = (await gw.events()).filter((e) => e.sessionId === operation.sessionId);
    assert.deepEqual(
      timeline.map((e) => e.type),
      ['session.start', 'operation', 'operation.result', 'session.end'],
    );
    assert.equal(timeline[1]?.payload['result'], undefined);
    assert.equal(timeline[2]?.payload['seq'], operation.payload['seq']);
    assert.equal(timeline[2]?.payload['rows'], 1);
    const found = await gw.store.getSession(operation.sessionId);
    const replayed = buildTimeline(found!.summary, found!.events).entries.find((e) => e.type === 'operation');
    assert.deepEqual(replayed?.type === 'operation' ? replayed.result?.response : undefined, {
      type: 'sql',
      columns: ['m', 'body'],
      rows: [['fold-marker', 'doc 5']],
      tags: ['SELECT 1'],
      truncated: false,
    });
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

  test('inside a transaction block a plain write runs while its record is written; its answer waits for it', async () => {
    const client = await connect(indexer);
    try {
      await client.query('begin');
      const audit = slowAudit('tx-write-marker');
      let answered = false;
      const update = client.query("update docs set body = 'tx-write-marker' where id = 6").then((result) => {
        answered = true;
        return result;
      });
      try {
        await backendRan('tx-write-marker', "state = 'idle in transaction'");
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(answered, false, 'no answer before the record is durable');
        assert.equal(await bodyOf(6), 'doc 6', 'nothing is committed while the block is open');
        audit.open();
        assert.equal((await update).rowCount, 1);
      } finally {
        // Opened whatever failed above, so the update can end and the test fail rather than hang.
        audit.open();
        audit.restore();
      }
      await client.query('commit');
      assert.equal(await bodyOf(6), 'tx-write-marker');
    } finally {
      await client.query("update docs set body = 'doc 6' where id = 6").catch(() => undefined);
      await client.end();
    }
    const operations = (await gw.events()).filter((e) => e.type === 'operation');
    const update = operations.find(
      (e) => e.payload['text'] === "update docs set body = 'tx-write-marker' where id = 6",
    );
    assert.equal(update?.payload['kind'], 'write');
    assert.equal(update?.payload['verdict'], 'allow');
  });

  test('a BEGIN runs while its record is written; its answer, and so the block, waits for it', async () => {
    const client = await connect(indexer);
    const audit = slowAudit('begin-marker');
    try {
      let answered = false;
      const begin = client.query('begin /* begin-marker */').then(() => {
        answered = true;
      });
      try {
        await backendRan('begin-marker', "state = 'idle in transaction'");
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(answered, false, 'no answer before the record is durable');
      } finally {
        audit.open();
      }
      await begin;
      // The block is open: now() is its start time, the same in two statements apart in time.
      const first = (await client.query('select now()::text as t')).rows[0].t;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await client.query('select now()::text as t')).rows[0].t, first);
      await client.query('rollback');
    } finally {
      audit.restore();
      await client.end();
    }
  });

  test('a write in a transaction block whose record fails is withheld, and the block rolled back', async () => {
    const client = await connect(indexer);
    client.on('error', () => undefined);
    const record = gw.recorder.record;
    try {
      await client.query('begin');
      await client.query("update docs set body = 'first in block' where id = 8");
      gw.recorder.record = (event, options) =>
        event.type === 'operation' && String(event.payload['text']).includes('unrecorded-write')
          ? Promise.reject(new Error('disk full'))
          : record.call(gw.recorder, event, options);
      // XX000, not 57P03: the write had been sent (it overlapped its record), and its answer was withheld.
      await assert.rejects(client.query("update docs set body = 'unrecorded-write' where id = 7"), withheld);
      await assert.rejects(client.query('commit'), 'the session is over: nothing can commit the block');
    } finally {
      gw.recorder.record = record;
      await client.end().catch(() => undefined);
    }
    // The backend session ends with the gateway's: wait for it, then neither write of the block is there.
    const admin = await gw.admin();
    try {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query(
          "select 1 from pg_stat_activity where pid <> pg_backend_pid() and query like '%unrecorded-write%'",
        );
        if (rows.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      await admin.end();
    }
    assert.equal(await bodyOf(7), 'doc 7');
    assert.equal(await bodyOf(8), 'doc 8');
  });

  test('a write behind a pipelined COMMIT waits for its record: it would run outside the block', async () => {
    const client = await RawClient.login(gw.host, gw.port, indexer);
    const audit = slowAudit('pipelined-write');
    try {
      client.write(serialize.query('begin'));
      await client.until('readyForQuery');
      // Sent together: the INSERT is decided before the backend answers the COMMIT, while the last status seen is `T`.
      client.write(serialize.query('commit'), serialize.query("insert into docs values (21, 'pipelined-write')"));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const admin = await gw.admin();
      try {
        const count = async () => (await admin.query('select count(*)::int as n from docs where id = 21')).rows[0].n;
        assert.equal(await count(), 0, 'not run before its record is durable');
        audit.open();
        await client.until('readyForQuery', 3);
        assert.equal(await count(), 1);
        await admin.query('delete from docs where id = 21');
      } finally {
        await admin.end();
      }
    } finally {
      audit.restore();
      client.close();
    }
  });

  test('when a plain read cannot be recorded, its rows are withheld and the session ends', async () => {
    const client = await connect(reader);
    client.on('error', () => undefined);
    const record = gw.recorder.record;
    gw.recorder.record = (event, options) =>
      event.type === 'operation' ? Promise.reject(new Error('disk full')) : record.call(gw.recorder, event, options);
    try {
      await assert.rejects(client.query("select 'withheld-marker' as m, body from docs where id = 4"), withheld);
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
      await assert.rejects(client.query("insert into docs values (12, 'unrecorded')"), { code: '57P03' });
      await assert.rejects(client.query({ text: 'insert into docs values ($1, $2)', values: [13, 'x'] }), {
        code: '57P03',
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
