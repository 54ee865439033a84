import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { DatabaseError, NoticeMessage } from 'pg-protocol/dist/messages.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';

/** The quickstart's indexer rule: writes allowed, a DELETE or UPDATE of the whole table waits for a data owner. */
const POLICY = `
      - groups: [indexers]
        allow: [read, write]
        review: [ddl, delete-without-where, update-without-where, truncate, drop]
        approvers: [data-owners]
      - groups: [admins]
        allow: [read, write, ddl, admin]
`;

/** Through the real gateway: a WHERE clause that bounds nothing is held like no WHERE; a narrow one runs at once. */
describe('unbounded WHERE through the gateway', () => {
  let gw: PgGateway;
  let indexer: string;

  const backend = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const admin = await gw.admin();
    try {
      return await fn(admin);
    } finally {
      await admin.end();
    }
  };
  const ids = () =>
    backend(async (c) => (await c.query('select id from documents order by id')).rows.map((r) => r.id as number));

  before(async () => {
    gw = await startPgGateway({ policy: POLICY, topLevelYaml: 'approvals:\n  postgresWait: 1s' });
    indexer = await gw.mint('index-bot', ['indexers']);
    await backend(async (c) => {
      await c.query('create table documents (id int primary key, body text)');
      await c.query("insert into documents select g, 'doc ' || g from generate_series(1, 5) g");
    });
  });
  after(async () => {
    await gw?.stop();
  });

  test("an indexer's DELETE FROM documents WHERE true is held for review and does not run", async () => {
    const client = new pg.Client(gw.clientConfig(indexer));
    client.on('error', () => undefined);
    await client.connect();
    try {
      for (const sql of [
        'DELETE FROM documents WHERE true',
        'DELETE FROM documents WHERE 1 = 1',
        'UPDATE documents SET body = $1 WHERE id = id',
      ]) {
        const notice = new Promise<NoticeMessage>((resolve) => client.once('notice', resolve));
        const result = client.query(sql, sql.includes('$1') ? ['wiped'] : []);
        result.catch(() => undefined);
        // Fails at once (instead of waiting for a notice that never comes) when the statement runs unheld.
        const ran = result.then(() => {
          throw new Error(`${sql} ran without review`);
        });
        assert.match((await Promise.race([notice, ran])).message ?? '', /review rv_[0-9a-f]{16} is waiting/, sql);
        // Nobody approves within postgresWait: the statement fails and never reaches the backend.
        await assert.rejects(result, (error: DatabaseError) => /was not run/.test(error.message), sql);
        assert.deepEqual(await ids(), [1, 2, 3, 4, 5], `${sql}: nothing deleted`);
      }
      const bodies = await backend(
        async (c) => (await c.query("select count(*)::int as n from documents where body = 'wiped'")).rows[0].n,
      );
      assert.equal(bodies, 0, 'the UPDATE did not run');
      // A narrow DELETE runs at once, on the same session.
      const narrow = await client.query('DELETE FROM documents WHERE id = 5');
      assert.equal(narrow.rowCount, 1);
      assert.deepEqual(await ids(), [1, 2, 3, 4]);
    } finally {
      await client.end();
    }
    const reviews = (await gw.events()).filter((e) => e.type === 'review' && e.payload['event'] === 'created');
    assert.equal(reviews.length, 3);
  });
});
