import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, startAgentWorld } from './agent-harness.js';

const RESOURCES = ['finished', 'rolled-back', 'lost']
  .map(
    (name) => `
  - name: ${name}
    protocol: postgres
    via: agent
    target: { host: agent, database: ${name}, user: agent }
    policy:
      - groups: [readers]
        allow: [read]`,
  )
  .join('');

/**
 * A rotation writes the new password to `<file>.next`, runs ALTER ROLE, then renames the file into place. An agent
 * stopped in between (crash, or an ALTER ROLE whose answer was lost) leaves the side file; the next start keeps
 * whichever password the backend accepts, and never throws away one that may be the only one it accepts.
 */
describe('an unfinished password rotation is settled when the agent starts', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let reader: string;
  const files: Record<string, string> = {};

  before(async () => {
    backend = await startPostgres();
    const direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    // What the backend accepts now, for each login.
    await direct.query(`
      create role rec_finished login password 'applied-by-the-rotation';
      create role rec_rolled login password 'still-the-current-one';
      create role rec_lost login password 'known-to-nobody';
    `);
    await direct.end();
    world = await startAgentWorld(
      backend,
      RESOURCES,
      '    - subjects: [agent-recovery]\n      resources: [finished, rolled-back, lost]',
    );
    reader = await world.mint('recovery-reader', ['readers']);
    const target = (name: string, user: string, current: string, pending: string) => {
      const passwordFile = join(world.dir, `${name}.password`);
      writeFileSync(passwordFile, `${current}\n`, { mode: 0o600 });
      writeFileSync(`${passwordFile}.next`, `${pending}\n`, { mode: 0o600 });
      files[name] = passwordFile;
      return { host: backend.host, port: backend.port, database: backend.database, user, passwordFile };
    };
    await world.startAgent('agent-recovery', {
      token: await world.mint('agent-recovery', []),
      resources: [
        // ALTER ROLE went through, the rename did not.
        {
          name: 'finished',
          protocol: 'postgres',
          target: target('finished', 'rec_finished', 'the-old-one', 'applied-by-the-rotation'),
        },
        // ALTER ROLE never reached the backend.
        {
          name: 'rolled-back',
          protocol: 'postgres',
          target: target('rolled-back', 'rec_rolled', 'still-the-current-one', 'never-applied'),
        },
        // Neither works (someone changed it by hand): both are kept for a human.
        { name: 'lost', protocol: 'postgres', target: target('lost', 'rec_lost', 'wrong-one', 'wrong-two') },
      ],
    });
  });

  after(async () => {
    await world?.stop();
    await backend?.stop();
  });

  const whoAmI = async (database: string) => {
    const client = world.client(reader, database);
    await client.connect();
    try {
      return (await client.query('select current_user as who')).rows[0].who as string;
    } finally {
      await client.end();
    }
  };

  test('the backend took the new password: the side file becomes the password file', async () => {
    const file = files.finished as string;
    assert.equal(readFileSync(file, 'utf8').trim(), 'applied-by-the-rotation');
    assert.ok(!existsSync(`${file}.next`));
    assert.equal(await whoAmI('finished'), 'rec_finished');
  });

  test('the backend never got it: the side file is dropped, the current password stays', async () => {
    const file = files['rolled-back'] as string;
    assert.equal(readFileSync(file, 'utf8').trim(), 'still-the-current-one');
    assert.ok(!existsSync(`${file}.next`));
    assert.equal(await whoAmI('rolled-back'), 'rec_rolled');
  });

  test('neither logs in: both files are kept, and sessions fail with a clear error', async () => {
    const file = files.lost as string;
    assert.equal(readFileSync(file, 'utf8').trim(), 'wrong-one');
    assert.equal(readFileSync(`${file}.next`, 'utf8').trim(), 'wrong-two');
    await assert.rejects(whoAmI('lost'), /could not open a session on the backend/);
  });
});
