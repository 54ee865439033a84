import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isGatehouseError } from '../../../src/core/errors.js';
import {
  brokenPin,
  parseOptions,
  pinnedFor,
  startupSettings,
} from '../../../src/protocols/postgres/startup/startup-parameters.js';

function refusedWith(sqlstate: string) {
  return (error: unknown) => isGatehouseError(error) && error.details['sqlstate'] === sqlstate;
}

describe('startup parameters: what a client may set on its backend session', () => {
  test('options are split as the server splits them: white space, backslash escapes, -c, -cname, --name', () => {
    assert.deepEqual(
      parseOptions('-c statement_timeout=5s  -clock_timeout=1s --idle-in-transaction-session-timeout=9'),
      [
        ['statement_timeout', '5s'],
        ['lock_timeout', '1s'],
        ['idle_in_transaction_session_timeout', '9'],
      ],
    );
    assert.deepEqual(parseOptions('-c TimeZone=Europe/Paris\\ x'), [['TimeZone', 'Europe/Paris x']]);
    assert.deepEqual(parseOptions('   '), []);
    for (const bad of ['-B 100', '-c', '-c =x', 'statement_timeout=1', '-d 5', '-o x'])
      assert.throws(() => parseOptions(bad), refusedWith('0A000'), bad);
  });

  test('only harmless settings pass; a setting hidden behind an escaped space is still its own name', () => {
    assert.deepEqual(
      startupSettings({ user: 'u', options: '-c statement_timeout=5s', DateStyle: 'ISO', search_path: 'x' }),
      {
        statement_timeout: '5s',
        DateStyle: 'ISO',
      },
    );
    for (const options of [
      '-c search_path=x',
      '-c role=postgres',
      '-c session_authorization=postgres',
      '-c default_transaction_read_only=off',
      '-c client_encoding=SJIS',
      '--standard-conforming-strings=off',
      '-c statement_timeout=1 -c log\\ statement=none',
    ])
      assert.throws(() => startupSettings({ user: 'u', options }), refusedWith('0A000'), options);
  });

  test('client_encoding: UTF-8 by any name or SQL_ASCII pass, anything else is 22023', () => {
    for (const encoding of ['UTF8', 'utf-8', 'Unicode', 'UTF_8', 'SQL_ASCII'])
      assert.deepEqual(startupSettings({ user: 'u', client_encoding: encoding }), {}, encoding);
    for (const encoding of ['SJIS', 'Shift_JIS', 'BIG5', 'GBK', 'GB18030', 'UHC', 'JOHAB', 'LATIN1', 'WIN1252', ''])
      assert.throws(() => startupSettings({ user: 'u', client_encoding: encoding }), refusedWith('22023'), encoding);
  });

  test('pins: encoding and string style always, read-only for read-only sessions; any other reported value breaks them', () => {
    const reported = new Map([
      ['client_encoding', 'UTF8'],
      ['standard_conforming_strings', 'on'],
      ['default_transaction_read_only', 'on'],
    ]);
    assert.equal(brokenPin(pinnedFor(true), reported), undefined);
    assert.equal(brokenPin(pinnedFor(true), new Map([...reported, ['client_encoding', 'SJIS']])), 'client_encoding');
    assert.equal(
      brokenPin(pinnedFor(true), new Map([...reported, ['default_transaction_read_only', 'off']])),
      'default_transaction_read_only',
    );
    assert.equal(
      brokenPin(pinnedFor(false), new Map([...reported, ['default_transaction_read_only', 'off']])),
      undefined,
    );
    assert.equal(brokenPin(pinnedFor(false), new Map([['client_encoding', 'UTF8']])), 'standard_conforming_strings');
  });
});
