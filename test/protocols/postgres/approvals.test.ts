import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendKeyDataMessage, DatabaseError, NoticeMessage } from 'pg-protocol/dist/messages.js';
import type { AuditEvent } from '../../../src/core/audit-event.js';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RULE = 'resources.app.policy[0]';

/** Indexers may write, but a DELETE or UPDATE of a whole table waits for a data owner. */
const POLICY = `
      - groups: [indexers]
        allow: [read, write]
        review: [delete-without-where, update-without-where]
        approvers: [data-owners]
      - groups: [admins]
        allow: [read, write, ddl, admin]
`;

/** Runs the real CLI (`node bin/gatehouse.js ...`). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/gatehouse.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, GATEHOUSE_TOKEN: '', GATEHOUSE_ADMIN_URL: '' },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function reviewIdOf(message: string): string {
  const match = /review (rv_[0-9a-f]{16}) is waiting/.exec(message);
  assert.ok(match, `no review id in: ${message}`);
  return match[1] as string;
}

/** Just-in-time approval on the PostgreSQL data path: held statements, notices, decisions, cancels. */
describe('postgres statements held for approval', () => {
  let gw: PgGateway;
  /** The same backend behind a gateway whose statements wait 1 s at most. */
  let quick: PgGateway;
  let indexer: string;
  let owner: string;

  const backend = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const admin = await gw.admin();
    try {
      return await fn(admin);
    } finally {
      await admin.end();
    }
  };
  const rows = () => backend(async (c) => (await c.query('select count(*)::int as n from documents')).rows[0].n);
  /** Statement-level trigger: one row per DELETE statement the backend really ran. */
  const deletesRun = () => backend(async (c) => (await c.query('select count(*)::int as n from delete_log')).rows[0].n);
  const refill = () =>
    backend(async (c) => {
      await c.query('truncate documents'); // TRUNCATE fires no DELETE trigger
      await c.query("insert into documents select g, 'doc ' || g from generate_series(1, 5) g");
    });

  const connect = async (token: string, via: PgGateway = gw): Promise<pg.Client> => {
    const client = new pg.Client(via.clientConfig(token));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  /** Sends `sql`; resolves with the review id once the NoticeResponse arrived (the statement is then held). */
  const hold = async (client: pg.Client, sql: string | pg.QueryConfig, values?: unknown[]) => {
    const notice = new Promise<NoticeMessage>((resolve) => client.once('notice', resolve));
    const result = client.query(sql as string, values);
    result.catch(() => undefined);
    const message = await notice;
    return { id: reviewIdOf(message.message ?? ''), result, notice: message };
  };
  const api = async (path: string, token: string, body: unknown = {}) => {
    const response = await fetch(`${gw.adminUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { error?: { message: string } } };
  };
  const stateOf = async (id: string) => (await gw.services.approvals.get(id))?.state;

  before(async () => {
    gw = await startPgGateway({
      policy: POLICY,
      admin: true,
      topLevelYaml: 'approvals:\n  postgresWait: 2m\n  publicUrl: http://approvals.example.test',
    });
    quick = await startPgGateway({
      backend: gw.backend,
      policy: POLICY,
      topLevelYaml: 'approvals:\n  postgresWait: 1s',
    });
    indexer = await gw.mint('index-bot', ['indexers']);
    owner = await gw.mint('alice', ['data-owners']);
    await backend(async (c) => {
      await c.query('create table documents (id int primary key, body text)');
      await c.query('create table delete_log (at timestamptz default now())');
      await c.query(`create function log_delete() returns trigger language plpgsql as
        'begin insert into delete_log default values; return null; end'`);
      await c.query(
        'create trigger documents_deleted after delete on documents for each statement execute function log_delete()',
      );
    });
  });
  after(async () => {
    await quick?.stop();
    await gw?.stop();
  });

  test('DELETE without WHERE is held, the client is told the review id, the CLI approves, it runs once', async () => {
    await refill();
    const before = await deletesRun();
    const client = await connect(indexer);
    let id = '';
    try {
      const held = await hold(client, 'DELETE FROM documents');
      id = held.id;
      const { result, notice } = held;
      assert.equal(notice.severity, 'NOTICE');
      assert.match(notice.message ?? '', /1 approval from data-owners/);
      assert.match(notice.message ?? '', new RegExp(`gatehouse reviews approve ${id}`));
      assert.match(notice.message ?? '', new RegExp(`http://approvals.example.test/.*${id}`));
      assert.equal(await rows(), 5, 'held: not run yet');
      assert.equal(await stateOf(id), 'pending');

      const approved = await cli(['reviews', 'approve', id, '--gateway', gw.adminUrl as string, '--token', owner]);
      assert.equal(approved.code, 0, approved.stderr);
      const done = await result;
      assert.equal(done.rowCount, 5);
      assert.equal(await rows(), 0);
      assert.equal(await deletesRun(), before + 1, 'exactly one DELETE reached the backend');
      assert.equal(await stateOf(id), 'executed');

      // The same statement again is a new review: the approval was spent on the first run.
      await refill();
      const again = await hold(client, 'DELETE FROM documents');
      assert.notEqual(again.id, id);
      assert.equal(await rows(), 5);
      const denied = await api(`/api/reviews/${again.id}/deny`, owner, { reason: 'one wipe a day' });
      assert.equal(denied.status, 200);
      await assert.rejects(again.result, (error: DatabaseError) => error.code === '42501');
      assert.equal(await rows(), 5);
      assert.equal(await deletesRun(), before + 1);
      assert.equal((await client.query('select 1 as ok')).rows[0].ok, 1, 'the session stays usable');
    } finally {
      await client.end();
    }

    const events = await gw.events();
    const review = events.filter((e) => e.type === 'review' && e.payload['reviewId'] === id);
    assert.deepEqual(
      review.map((e) => e.payload['event']),
      ['created', 'approved', 'executed'],
    );
    const sessionId = review[0]?.sessionId;
    const operation = events.find(
      (e) => e.sessionId === sessionId && e.type === 'operation' && e.payload['text'] === 'DELETE FROM documents',
    ) as AuditEvent;
    assert.equal(operation.payload['verdict'], 'review');
    assert.equal(operation.payload['rule'], RULE);
    const result = events.find(
      (e) =>
        e.sessionId === sessionId && e.type === 'operation.result' && e.payload['seq'] === operation.payload['seq'],
    ) as AuditEvent;
    assert.equal(result.payload['outcome'], 'ok');
    assert.equal(result.payload['rows'], 0);
  });

  test('a denial is 42501 with the approver reason; nothing runs; a transaction block is aborted as usual', async () => {
    await refill();
    const before = await deletesRun();
    const client = await connect(indexer);
    try {
      await client.query('begin');
      await client.query("insert into documents values (6, 'in the transaction')");
      const { id, result } = await hold(client, 'delete from documents');
      const denied = await api(`/api/reviews/${id}/deny`, owner, { reason: 'wrong table' });
      assert.equal(denied.status, 200);
      await assert.rejects(result, (error: DatabaseError) => {
        assert.equal(error.code, '42501');
        assert.match(error.message, new RegExp(`denied in review ${id}: wrong table`));
        assert.match(error.message, /not run/);
        assert.equal(error.detail, `gatehouse rule: ${RULE}`);
        return true;
      });
      await assert.rejects(client.query('select 1'), (error: DatabaseError) => error.code === '25P02');
      await client.query('rollback');
      assert.equal((await client.query('select count(*)::int as n from documents')).rows[0].n, 5);
    } finally {
      await client.end();
    }
    assert.equal(await deletesRun(), before);
    assert.equal(await rows(), 5);
  });

  test('no decision within the wait: the statement fails (57014), its review expires, nothing runs', async () => {
    await refill();
    const before = await deletesRun();
    const client = await connect(await quick.mint('index-bot', ['indexers']), quick);
    try {
      const { id, result } = await hold(client, 'DELETE FROM documents');
      await assert.rejects(result, (error: DatabaseError) => {
        assert.equal(error.code, '57014');
        assert.match(error.message, new RegExp(`review ${id} got no decision within 1 s and expired`));
        return true;
      });
      assert.equal((await quick.services.approvals.get(id))?.state, 'expired');
      // A late approval is refused; the statement can never run.
      const late = await quick.services.approvals
        .decide(id, { issuer: 'gatehouse-dev', subject: 'alice', groups: ['data-owners'] }, 'approve')
        .then(
          () => 'approved',
          (error: Error) => error.message,
        );
      assert.match(late, /expired|decided/);
      assert.equal((await client.query('select count(*)::int as n from documents')).rows[0].n, 5);
    } finally {
      await client.end();
    }
    assert.equal(await deletesRun(), before);
  });

  test('the requester cannot approve its own statement, nor can a non-approver; neither runs it', async () => {
    await refill();
    const selfApprover = await gw.mint('owner-bot', ['indexers', 'data-owners']);
    const outsider = await gw.mint('other-indexer', ['indexers']);
    const client = await connect(selfApprover);
    try {
      const { id, result } = await hold(client, 'DELETE FROM documents');
      const own = await cli(['reviews', 'approve', id, '--gateway', gw.adminUrl as string, '--token', selfApprover]);
      assert.notEqual(own.code, 0);
      assert.match(own.stderr, /requested by you: someone else must decide it/);
      const refused = await api(`/api/reviews/${id}/approve`, outsider);
      assert.equal(refused.status, 403);
      assert.equal(await stateOf(id), 'pending');
      assert.equal(await rows(), 5);
      await api(`/api/reviews/${id}/deny`, owner, { reason: 'cleanup' });
      await assert.rejects(result, (error: DatabaseError) => error.code === '42501');
    } finally {
      await client.end();
    }
    assert.equal(await rows(), 5);
  });

  test("a cancel from the client (pg's cancel) withdraws the review; the session stays usable", async () => {
    await refill();
    const before = await deletesRun();
    const client = await connect(indexer);
    let id = '';
    try {
      const held = await hold(client, 'DELETE FROM documents');
      id = held.id;
      const { result } = held;
      // node-postgres' own cancel: a CancelRequest on a new connection with the key the gateway issued.
      const canceller = new pg.Client(gw.clientConfig(indexer)) as pg.Client & {
        cancel(client: pg.Client, query: unknown): void;
      };
      canceller.cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
      await assert.rejects(result, (error: DatabaseError) => {
        assert.equal(error.code, '57014');
        assert.match(error.message, /withdrawn/);
        return true;
      });
      assert.equal(await stateOf(id), 'withdrawn');
      // Approving a withdrawn review does nothing.
      assert.equal((await api(`/api/reviews/${id}/approve`, owner)).status, 409);
      assert.equal((await client.query('select count(*)::int as n from documents')).rows[0].n, 5);
    } finally {
      await client.end();
    }
    assert.equal(await deletesRun(), before);
    const events = await gw.events();
    assert.deepEqual(
      events.filter((e) => e.type === 'review' && e.payload['reviewId'] === id).map((e) => e.payload['event']),
      ['created', 'withdrawn'],
    );
  });

  test('a client that disconnects while held withdraws its review', async () => {
    const client = await connect(indexer);
    const { id } = await hold(client, 'DELETE FROM documents');
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    for (let i = 0; i < 200 && (await stateOf(id)) === 'pending'; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await stateOf(id), 'withdrawn');
    assert.equal(await rows(), 5);
  });

  test('extended protocol: a prepared statement is held and approved, and its next Execute is a new review', async () => {
    await refill();
    const before = await deletesRun();
    const client = await connect(indexer);
    try {
      const first = await hold(client, { name: 'wipe', text: 'DELETE FROM documents' });
      assert.equal((await api(`/api/reviews/${first.id}/approve`, owner)).status, 200);
      assert.equal((await first.result).rowCount, 5);
      assert.equal(await deletesRun(), before + 1);

      await refill();
      const second = await hold(client, { name: 'wipe', text: 'DELETE FROM documents' });
      assert.notEqual(second.id, first.id);
      await api(`/api/reviews/${second.id}/deny`, owner, { reason: 'not twice' });
      await assert.rejects(second.result, (error: DatabaseError) => {
        assert.equal(error.code, '42501');
        assert.match(error.message, /not twice/);
        return true;
      });
      assert.equal(await rows(), 5);
      assert.equal(await deletesRun(), before + 1);

      // Parameters are part of what is reviewed: approvers see them, and the approved values are the ones run.
      const update = await hold(client, 'UPDATE documents SET body = $1', ['wiped']);
      const review = await gw.services.approvals.get(update.id);
      assert.match(review?.operation.text ?? '', /UPDATE documents SET body = \$1\n-- parameters: \["wiped"\]/);
      assert.equal((await api(`/api/reviews/${update.id}/approve`, owner)).status, 200);
      assert.equal((await update.result).rowCount, 5);
      const bodies = await backend(async (c) => (await c.query('select distinct body from documents')).rows);
      assert.deepEqual(bodies, [{ body: 'wiped' }]);
    } finally {
      await client.end();
    }
  });

  test('messages pipelined behind a held statement wait for it, in order', async () => {
    await refill();
    const client = await RawClient.login(gw.host, gw.port, indexer);
    try {
      client.write(
        serialize.parse({ text: 'DELETE FROM documents' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
        serialize.query("INSERT INTO documents VALUES (100, 'late')"),
      );
      await client.until('notice');
      await client.until('bindComplete');
      const id = reviewIdOf((client.messages.find((m) => m.name === 'notice') as NoticeMessage).message ?? '');
      // A notice may come at any time; the answers to Parse and Bind are relayed while the Execute is held.
      assert.deepEqual(client.names().sort(), ['bindComplete', 'notice', 'parseComplete']);
      assert.equal(await rows(), 5, 'neither the DELETE nor the INSERT behind it has run');
      assert.equal((await api(`/api/reviews/${id}/approve`, owner)).status, 200);
      await client.until('readyForQuery', 2);
      assert.deepEqual(client.names().slice(3), [
        'commandComplete',
        'readyForQuery',
        'commandComplete',
        'readyForQuery',
      ]);
      const ids = await backend(async (c) => (await c.query('select id from documents')).rows);
      assert.deepEqual(ids, [{ id: 100 }], 'the DELETE ran first, then the INSERT');
    } finally {
      client.close();
    }
  });

  test('extended protocol: a raw CancelRequest with the gateway key withdraws; the batch ends cleanly', async () => {
    await refill();
    const before = await deletesRun();
    const client = await RawClient.open(gw.host, gw.port);
    try {
      client.write(serialize.startup({ user: 'agent', database: 'app' }));
      await client.until('authenticationCleartextPassword');
      client.write(serialize.password(indexer));
      await client.until('readyForQuery');
      const key = client.messages.find((m) => m.name === 'backendKeyData') as BackendKeyDataMessage;
      client.messages.length = 0;
      client.write(
        serialize.parse({ text: 'DELETE FROM documents' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      );
      await client.until('notice');
      await client.until('bindComplete');
      const id = reviewIdOf((client.messages.find((m) => m.name === 'notice') as NoticeMessage).message ?? '');
      const cancel = await RawClient.open(gw.host, gw.port);
      cancel.write(serialize.cancel(key.processID, key.secretKey));
      await cancel.closed;
      await client.until('readyForQuery');
      assert.deepEqual(client.names().slice(3), ['error', 'readyForQuery']);
      assert.equal((client.messages[3] as DatabaseError).code, '57014');
      assert.equal(await stateOf(id), 'withdrawn');
      client.messages.length = 0;
      client.write(serialize.query('select count(*) from documents'));
      await client.until('readyForQuery');
      assert.deepEqual(client.names(), ['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
    } finally {
      client.close();
    }
    assert.equal(await rows(), 5);
    assert.equal(await deletesRun(), before);
  });
});
