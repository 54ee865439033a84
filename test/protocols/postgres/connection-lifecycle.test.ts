import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import postgres from 'postgres';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

const MAX_MESSAGE = 64 * 1024;

/** Polls a condition on the real backend until it holds; the deadline only bounds a hung test. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`never happened: ${what}`);
}

function startupPacket(version: number, parameters: Record<string, string>): Buffer {
  const body = Buffer.from(`${Object.entries(parameters).flat().join('\0')}\0\0`);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(version, 4);
  return Buffer.concat([header, body]);
}

function errorOf(client: RawClient): DatabaseError | undefined {
  return client.messages.find((m) => m.name === 'error') as DatabaseError | undefined;
}

/** Bad input, lost peers and session ends: clean ErrorResponses or closes, never a crash, other sessions unaffected. */
describe('postgres connection lifecycle and bad input', () => {
  let gw: PgGateway;
  let reader: string;
  let bystander: pg.Client;

  const activeBackends = async (pattern: string): Promise<number> => {
    const admin = await gw.admin();
    try {
      const { rows } = await admin.query(
        'select count(*)::int as n from pg_stat_activity where query like $1 and pid <> pg_backend_pid()',
        [pattern],
      );
      return rows[0].n;
    } finally {
      await admin.end();
    }
  };

  before(async () => {
    gw = await startPgGateway({ listener: { startupTimeoutMs: 300, maxMessageBytes: MAX_MESSAGE } });
    reader = await gw.mint('rag-bot', ['rag-readers']);
    bystander = new pg.Client(gw.clientConfig(reader));
    await bystander.connect();
  });
  after(async () => {
    // Every other test's garbage left this session alone.
    assert.equal((await bystander.query('select 1 as one')).rows[0].one, 1);
    await bystander.end();
    await gw.stop();
  });

  test('a bad token is refused with 28P01 and the backend is never contacted', async () => {
    const before = gw.connector.connections;
    for (const password of ['not-a-token', `${reader.slice(0, -4)}AAAA`]) {
      const client = new pg.Client(gw.clientConfig(password));
      await assert.rejects(client.connect(), (error: pg.DatabaseError) => {
        assert.equal(error.code, '28P01');
        assert.ok(!error.message.includes(password));
        return true;
      });
    }
    assert.equal(gw.connector.connections, before);
  });

  test('an unknown database is 3D000 after login', async () => {
    const client = new pg.Client(gw.clientConfig(reader, 'nope'));
    await assert.rejects(client.connect(), { code: '3D000' });
  });

  test('garbage instead of a startup packet is refused and closed', async () => {
    const client = await RawClient.open(gw.host, gw.port);
    client.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await client.closed;
    assert.ok(['08P01', '54000'].includes(errorOf(client)?.code ?? ''), client.names().join());
  });

  test('a wrong protocol version is 0A000', async () => {
    const client = await RawClient.open(gw.host, gw.port);
    client.write(startupPacket(2 << 16, { user: 'agent', database: 'app' }));
    await client.closed;
    assert.equal(errorOf(client)?.code, '0A000');
  });

  test('SSLRequest and GSSENCRequest are answered N when TLS is not configured', async () => {
    const client = await RawClient.open(gw.host, gw.port);
    const answers: Buffer[] = [];
    client.socket.prependListener('data', (chunk: Buffer) => answers.push(chunk));
    client.write(serialize.requestSsl());
    await eventually(async () => Buffer.concat(answers).length >= 1, 'SSL answer');
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80877104, 4);
    client.write(gss);
    await eventually(async () => Buffer.concat(answers).length >= 2, 'GSSENC answer');
    assert.equal(Buffer.concat(answers).subarray(0, 2).toString(), 'NN');
    client.close();
  });

  test('a startup that never finishes is closed after the startup timeout', async () => {
    const silent = await RawClient.open(gw.host, gw.port);
    await silent.closed;
    const partial = await RawClient.open(gw.host, gw.port);
    partial.write(startupPacket(196608, { user: 'agent', database: 'app' }).subarray(0, 10));
    await partial.closed;
    const noPassword = await RawClient.open(gw.host, gw.port);
    noPassword.write(serialize.startup({ user: 'agent', database: 'app' }));
    await noPassword.closed;
    assert.ok(noPassword.names().includes('authenticationCleartextPassword'));
  });

  test('an unknown message type after login is a protocol violation (08P01)', async () => {
    const client = await RawClient.login(gw.host, gw.port, reader);
    client.write(Buffer.from([0x7a, 0, 0, 0, 4]));
    await client.closed;
    assert.equal(errorOf(client)?.code, '08P01');
  });

  test('an impossible or oversized length is refused (08P01 / 54000) and closed', async () => {
    const invalid = await RawClient.login(gw.host, gw.port, reader);
    invalid.write(Buffer.from([0x51, 0, 0, 0, 2]));
    await invalid.closed;
    assert.equal(errorOf(invalid)?.code, '08P01');
    const huge = await RawClient.login(gw.host, gw.port, reader);
    huge.write(Buffer.from([0x51, 0x40, 0, 0, 0]));
    await huge.closed;
    assert.equal(errorOf(huge)?.code, '54000');
  });

  test('a real query over the maximum message length is 54000', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    await client.connect();
    client.on('error', () => undefined);
    await assert.rejects(client.query(`select '${'x'.repeat(MAX_MESSAGE)}'`), { code: '54000' });
  });

  test('a truncated message followed by a disconnect ends the session', async () => {
    const client = await RawClient.login(gw.host, gw.port, reader);
    const query = serialize.query('select 1');
    client.socket.end(query.subarray(0, query.length - 3));
    await client.closed;
    await eventually(async () => {
      const events = await gw.events();
      return events.some((e) => e.type === 'session.end' && e.payload['reason'] === 'client disconnected');
    }, 'session end recorded');
  });

  test('a client vanishing mid-query has its backend statement cancelled and connection closed', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    await client.connect();
    client.on('error', () => undefined);
    void client.query('select pg_sleep(60) as vanishing').catch(() => undefined);
    await eventually(async () => (await activeBackends('%pg_sleep(60) as vanishing%')) === 1, 'query running');
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await eventually(async () => (await activeBackends('%pg_sleep(60) as vanishing%')) === 0, 'backend gone');
  });

  test('CancelRequest with the gateway key cancels the running statement (57014)', async () => {
    const sql = postgres({ ...gw.clientConfig(reader), max: 1, onnotice: () => undefined });
    try {
      const running = sql`select pg_sleep(60) as cancelled`;
      const outcome = running.then(
        () => 'finished',
        (error: { code?: string }) => error.code,
      );
      await eventually(async () => (await activeBackends('%pg_sleep(60) as cancelled%')) === 1, 'query running');
      running.cancel();
      assert.equal(await outcome, '57014');
      assert.equal((await sql`select 1 as one`)[0]?.one, 1);
    } finally {
      await sql.end();
    }
  });

  test('switching client_encoding away from UTF8 is refused before the server sees it (statements are read as UTF-8)', async () => {
    const client = new pg.Client(gw.clientConfig(reader));
    await client.connect();
    client.on('error', () => undefined);
    try {
      await assert.rejects(client.query("set client_encoding = 'SJIS'"), { code: '42501' });
      assert.equal((await client.query('show client_encoding')).rows[0].client_encoding, 'UTF8');
    } finally {
      await client.end();
    }
  });

  test('a backend that dies ends the client session with its FATAL', async () => {
    const client = new pg.Client({ ...gw.clientConfig(reader), application_name: 'doomed' });
    await client.connect();
    const ended = new Promise<pg.DatabaseError>((resolve) => client.once('error', resolve as (e: Error) => void));
    client.on('error', () => undefined);
    const admin = await gw.admin();
    await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'doomed'");
    await admin.end();
    assert.equal((await ended).code, '57P01');
  });

  test('the session ends with 28000 when the token expires', async () => {
    const shortLived = await gw.mint('brief-bot', ['rag-readers'], 2_000);
    const client = new pg.Client(gw.clientConfig(shortLived));
    await client.connect();
    const ended = new Promise<pg.DatabaseError>((resolve) => client.once('error', resolve as (e: Error) => void));
    client.on('error', () => undefined);
    assert.equal((await client.query('select 1 as one')).rows[0].one, 1);
    const error = await ended;
    assert.equal(error.code, '28000');
    assert.match(error.message, /expired/);
  });
});
