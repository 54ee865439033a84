import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { QUICKSTART_CONFIG } from './quickstart-gateway.js';

const run = promisify(execFile);
const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

/** `gatehouse quickstart --once` as a user runs it: its self-check output shows both paths working. */
describe('gatehouse quickstart --once', () => {
  let dir: string;
  let output: string;

  before(async () => {
    // The real quickstart config, copied so the run's .gatehouse/ (certificate, key, audit) lands in a temp dir.
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-quickstart-cli-'));
    const config = join(dir, 'gatehouse.yaml');
    await copyFile(QUICKSTART_CONFIG, config);
    const env = { ...process.env };
    delete env.GATEHOUSE_LLM_URL;
    const { stderr } = await run(process.execPath, [CLI, 'quickstart', '--once', '-c', config], {
      env,
      timeout: 120_000,
    });
    output = stderr;
  });
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  test('HTTP: the allowed model answers 200, another model is denied 403', () => {
    assert.match(output, /allowed model\s+-> 200 /);
    assert.match(output, /other model\s+-> 403 .*model-not-allowed/);
  });

  test('SQL: the nearest-neighbour query returns rows; the indexer DELETE without WHERE is held, then denied', () => {
    assert.match(output, /SQL nearest\s+-> 3 rows: 1 Refund policy; 3 Ticket 4711: refund request; 5 /);
    const held = /SQL DELETE\s+-> held: gatehouse: review (\S+) is waiting for 1 approval from data-owners/.exec(
      output,
    );
    assert.ok(held, 'the DELETE was held for approval with a NOTICE naming the review');
    assert.match(
      output,
      new RegExp(`SQL DELETE\\s+-> refused 42501: gatehouse: DELETE was denied in review ${held[1]}`),
    );
    assert.doesNotMatch(output, /NOT refused/);
  });

  test('SQL: personal data in a result row comes back masked, the rest of the row as stored', () => {
    const ticket = /SQL masked\s+-> (.*)/.exec(output)?.[1];
    assert.equal(ticket, 'Customer Jane Roe (j***@example.com, ****0132) asks for a refund to card ****1111.');
    assert.doesNotMatch(output, /jane\.roe@example\.com|415 555 0132|4111 1111 1111 1111/);
  });

  test('prints tokens for the three groups, a psql command line with sslmode=require, and how to approve', () => {
    assert.match(output, /export TOKEN=ey[\w.-]+/);
    assert.match(output, /export INDEXER_TOKEN=ey[\w.-]+/);
    const approver = /export APPROVER_TOKEN=(ey[\w.-]+)/.exec(output)?.[1];
    const claims = JSON.parse(Buffer.from(approver?.split('.')[1] ?? '', 'base64url').toString()) as {
      groups?: string[];
    };
    assert.deepEqual(claims.groups, ['data-owners'], 'the approver token is for the group the DELETE rule names');
    assert.match(output, /password=\$INDEXER_TOKEN" \\\n\s+-c BEGIN -c "DELETE FROM documents" -c ROLLBACK/);
    assert.match(
      output,
      /GATEHOUSE_ADMIN_URL=http:\/\/127\.0\.0\.1:\d+ GATEHOUSE_TOKEN=\$APPROVER_TOKEN npx gatehouse reviews list/,
    );
    assert.match(output, /psql "host=127\.0\.0\.1 port=\d+ dbname=vectors sslmode=require user=me password=\$TOKEN"/);
    assert.match(output, /one session at a time/);
  });

  test('the listener certificate was generated on first run and the backend credential is not printed', async () => {
    const cert = await readFile(join(dir, '.gatehouse', 'postgres-cert.pem'), 'utf8');
    assert.match(cert, /BEGIN CERTIFICATE/);
    assert.doesNotMatch(output, /quickstart-vectors-password/);
  });
});
