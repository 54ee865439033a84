import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import { PG_TEST_POLICY, type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

/** A Query message with exactly these bytes as its text: what a client in another encoding would send. */
function rawQuery(text: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0x51;
  header.writeInt32BE(4 + text.length + 1, 1);
  return Buffer.concat([header, text, Buffer.from([0])]);
}

/**
 * Finding 1: in SJIS, `0x95 0x5C` is one character, so the backslash that escapes the quote in the UTF-8 reading is
 * swallowed; the string ends there and a COPY ... TO PROGRAM follows. In UTF-8 the whole text is one SELECT of a
 * string (its dollar quotes are inside the string).
 */
function sjisAttack(canary: string): Buffer {
  return Buffer.concat([
    Buffer.from("SELECT E'"),
    Buffer.from([0x95, 0x5c]),
    Buffer.from(`'; COPY (SELECT 1) TO PROGRAM $$touch ${canary}; cat > /dev/null$$; --'`),
  ]);
}

/**
 * The same attack in valid UTF-8: `Á` is `0xC3 0x81`; in SJIS `0xC3` is a half-width katakana and `0x81 0x5C` one
 * character, so the backslash is swallowed all the same. UTF-8 validation alone does not stop this one.
 */
function sjisAttackValidUtf8(canary: string): Buffer {
  return Buffer.from(
    `SELECT E'\u00c1\\'; COPY (SELECT 1) TO PROGRAM $$touch ${canary}; cat > /dev/null$$; --'`,
    'utf8',
  );
}

function startupPacket(parameters: Record<string, string>): Buffer {
  const body = Buffer.from(`${Object.entries(parameters).flat().join('\0')}\0\0`);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(196608, 4);
  return Buffer.concat([header, body]);
}

function errorOf(client: RawClient): DatabaseError | undefined {
  return client.messages.find((m) => m.name === 'error') as DatabaseError | undefined;
}

/** Sends raw bytes on a node-postgres connection (a Submittable), for the direct control run of the attack. */
function sendRaw(client: pg.Client, bytes: Buffer, queries: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let ready = 0;
    let failure: unknown;
    const submittable = {
      submit(connection: { stream: { write(b: Buffer): void } }) {
        connection.stream.write(bytes);
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handleError(error: unknown) {
        failure = error;
      },
      handleReadyForQuery() {
        if (++ready === queries) failure === undefined ? resolve() : reject(failure);
      },
    };
    void client.query(submittable as unknown as pg.QueryConfig);
  });
}

/** The gateway's reading of the bytes is the server's: encoding and string style pinned, startup options allow-listed. */
describe('postgres: the server reads SQL as the gateway does', () => {
  let gw: PgGateway;
  let reader: string;
  /**
   * A group whose rule names `parser-setting`, which policy otherwise denies to everyone: it stands for a policy or
   * classifier gap, so that what the pins themselves do (watching the server's reports) is what these tests show.
   */
  let gap: string;
  let dir: string;

  before(async () => {
    gw = await startPgGateway({
      policy: `${PG_TEST_POLICY}      - groups: [policy-gap]
        allow: [read, write, parser-setting]
`,
    });
    reader = await gw.mint('rag-bot', ['rag-readers']);
    gap = await gw.mint('gap-job', ['policy-gap']);
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-canary-'));
    // The backend may run as another OS user (`postgres` when the tests run as root).
    await chmod(dir, 0o777);
  });
  after(async () => {
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('control: on the backend directly, the SJIS attack does run COPY TO PROGRAM (so the tests below can fail)', async () => {
    const control = join(dir, 'control');
    const admin = await gw.admin();
    try {
      await admin.query("SET client_encoding = 'SJIS'");
      await sendRaw(admin, rawQuery(sjisAttack(control)), 1);
    } finally {
      await admin.end();
    }
    assert.ok(existsSync(control), 'the attack works against the server itself');
  });

  test('control: the valid UTF-8 variant runs COPY TO PROGRAM on the backend directly in SJIS, and is one SELECT in UTF-8', async () => {
    const control = join(dir, 'control-utf8');
    const admin = await gw.admin();
    try {
      await sendRaw(admin, rawQuery(sjisAttackValidUtf8(join(dir, 'never'))), 1);
      await admin.query("SET client_encoding = 'SJIS'");
      await sendRaw(admin, rawQuery(sjisAttackValidUtf8(control)), 1);
    } finally {
      await admin.end();
    }
    assert.ok(existsSync(control));
    assert.equal(existsSync(join(dir, 'never')), false);
  });

  test('the valid UTF-8 variant pipelined behind SET client_encoding never reaches the backend', async () => {
    const canary = join(dir, 'pipelined-utf8');
    const client = await RawClient.login(gw.host, gw.port, gap);
    client.write(serialize.query("SET client_encoding = 'SJIS'"), rawQuery(sjisAttackValidUtf8(canary)));
    await client.closed;
    assert.match(errorOf(client)?.message ?? '', /client_encoding must stay UTF8/);
    assert.equal(existsSync(canary), false);
  });

  test('SET client_encoding pipelined ahead of the attack: the session ends before the attack reaches the backend', async () => {
    const canary = join(dir, 'pipelined');
    const client = await RawClient.login(gw.host, gw.port, gap);
    client.write(serialize.query("SET client_encoding = 'SJIS'"), rawQuery(sjisAttack(canary)));
    await client.closed;
    const fatal = errorOf(client);
    assert.equal(fatal?.severity, 'FATAL');
    assert.equal(fatal?.code, '0A000');
    assert.match(fatal?.message ?? '', /client_encoding must stay UTF8/);
    assert.equal(existsSync(canary), false);
    const events = await gw.events();
    assert.ok(!events.some((e) => JSON.stringify(e).includes('TO PROGRAM')), 'the attack was never decided or run');
    assert.ok(events.some((e) => JSON.stringify(e).includes('pinned setting changed: client_encoding=SJIS')));
  });

  test('extended protocol: after an Execute that may change a setting, a non-ASCII Parse before Sync is refused (0A000)', async () => {
    const client = await RawClient.login(gw.host, gw.port, gap);
    client.write(
      serialize.parse({ text: "SET client_encoding = 'SJIS'" }),
      serialize.bind({}),
      serialize.execute({}),
      // Valid UTF-8 whose `0xC3 0x81 0x5C` is, in SJIS, a katakana and a character that swallows the backslash.
      serialize.parse({ name: 'ascii', text: 'SELECT 1' }),
      serialize.parse({ name: 'later', text: "SELECT E'\u00c1\\'' -- '" }),
      serialize.sync(),
    );
    await client.until('readyForQuery');
    const errors = client.messages.filter((m) => m.name === 'error') as DatabaseError[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, '0A000');
    assert.match(errors[0]?.message ?? '', /beyond ASCII must wait for a Sync/);
    // The refusal failed the batch, so its implicit transaction (and the SET in it) was rolled back.
    client.messages.length = 0;
    client.write(serialize.query('SHOW client_encoding'));
    await client.until('readyForQuery');
    const row = client.messages.find((m) => m.name === 'dataRow') as unknown as { fields: string[] };
    assert.equal(row.fields[0], 'UTF8');
    client.close();
  });

  test('a reader: SET client_encoding is refused by policy up front (42501), and the attack behind it never runs', async () => {
    const canary = join(dir, 'policy-refused');
    const client = await RawClient.login(gw.host, gw.port, reader);
    client.messages.length = 0;
    client.write(serialize.query("SET client_encoding = 'SJIS'"), rawQuery(sjisAttackValidUtf8(canary)));
    await client.until('readyForQuery', 2);
    const errors = client.messages.filter((m) => m.name === 'error') as DatabaseError[];
    assert.equal(errors[0]?.code, '42501');
    client.messages.length = 0;
    client.write(serialize.query('SHOW client_encoding'));
    await client.until('readyForQuery');
    const row = client.messages.find((m) => m.name === 'dataRow') as unknown as { fields: string[] };
    assert.equal(row.fields[0], 'UTF8', 'the session goes on, in UTF-8');
    client.close();
    assert.equal(existsSync(canary), false);
  });

  test('SQL text that is not valid UTF-8 is refused (22021) before anything runs', async () => {
    const canary = join(dir, 'invalid-utf8');
    const client = await RawClient.login(gw.host, gw.port, reader);
    client.write(rawQuery(sjisAttack(canary)));
    await client.closed;
    assert.equal(errorOf(client)?.code, '22021');
    assert.equal(existsSync(canary), false);
  });

  test('a client_encoding that is not UTF-8 is refused at startup (22023), before the token is asked', async () => {
    for (const encoding of ['SJIS', 'BIG5', 'GBK', 'LATIN1']) {
      const client = await RawClient.open(gw.host, gw.port);
      client.write(startupPacket({ user: 'agent', database: 'app', client_encoding: encoding }));
      await client.closed;
      assert.equal(errorOf(client)?.code, '22023', encoding);
      assert.ok(!client.names().includes('authenticationCleartextPassword'));
    }
    for (const encoding of ['UTF8', 'utf-8', 'unicode', 'SQL_ASCII']) {
      const client = new pg.Client({ ...gw.clientConfig(reader), client_encoding: encoding } as pg.ClientConfig);
      await client.connect();
      const { rows } = await client.query('SHOW client_encoding');
      assert.equal(rows[0].client_encoding, 'UTF8', encoding);
      await client.end();
    }
  });

  test('standard_conforming_strings is on at the server, and turning it off ends the session', async () => {
    const client = new pg.Client(gw.clientConfig(gap));
    await client.connect();
    client.on('error', () => undefined);
    assert.equal((await client.query('SHOW standard_conforming_strings')).rows[0].standard_conforming_strings, 'on');
    await assert.rejects(client.query('SET standard_conforming_strings = off'), (error: DatabaseError) => {
      assert.match(error.message, /standard_conforming_strings must stay on/);
      return true;
    });
  });

  test('startup options: harmless settings reach the backend, anything else is refused (0A000)', async () => {
    const allowed = new pg.Client({
      ...gw.clientConfig(reader),
      options: '-c statement_timeout=4321 --lock-timeout=1234',
    });
    await allowed.connect();
    assert.equal((await allowed.query('SHOW statement_timeout')).rows[0].statement_timeout, '4321ms');
    assert.equal((await allowed.query('SHOW lock_timeout')).rows[0].lock_timeout, '1234ms');
    await allowed.end();
    for (const options of [
      '-c client_encoding=SJIS',
      '-c standard_conforming_strings=off',
      '--default_transaction_read_only=off',
      '-c role=postgres',
      '-csession_authorization=postgres',
      '-c search_path=evil,public',
      '-c log_statement=none',
      '-B 100',
      '-c statement_timeout=1 -c search\\ path=x',
    ]) {
      const client = new pg.Client({ ...gw.clientConfig(reader), options });
      await assert.rejects(client.connect(), (error: DatabaseError) => {
        assert.equal(error.code, '0A000', options);
        return true;
      });
    }
    assert.equal(gw.connector.options.filter((o) => JSON.stringify(o).includes('search_path')).length, 0);
  });
});
