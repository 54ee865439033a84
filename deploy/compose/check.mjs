// `docker compose run --rm check`: the quickstart's checks against the Compose set-up, through the load balancer.
// HTTP: an allowed model answers 200, another model is refused 403. SQL: a reader's pgvector query is answered and a
// ticket's personal data comes back masked; an indexer's DELETE without WHERE is held for review, denied by an
// approver, refused, and the backend (checked directly) still has every row. Exits 1 on the first failed check.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire('/app/package.json'); // the image's own dependencies
const pg = require('pg');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const httpUrl = env('GATEHOUSE_HTTP_URL');
const pgAt = { host: env('GATEHOUSE_PG_HOST'), port: Number(env('GATEHOUSE_PG_PORT')) };
const gatehouse = (...args) => execFileSync('gatehouse', args, { encoding: 'utf8' }).trim();
const mint = (sub, groups) =>
  gatehouse('token', 'mint', '-c', '/etc/gatehouse/gatehouse.yaml', '--sub', sub, '--groups', groups, '--ttl', '10m');

let failed = 0;
function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  if (!ok) failed++;
}

const reader = mint('compose-job', 'rag-readers');
const indexer = mint('compose-indexer', 'indexers');
const approver = mint('compose-approver', 'data-owners');

async function chat(model) {
  const res = await fetch(`${httpUrl}/llm/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello through Gatehouse' }] }),
  });
  return { status: res.status, body: await res.text() };
}
const allowed = await chat('gpt-4o-mini');
check('allowed model', allowed.status === 200 && allowed.body.includes('hello through Gatehouse'), allowed.status);
const other = await chat('gpt-4o');
check('other model', other.status === 403 && other.body.includes('model-not-allowed'), `${other.status} ${other.body}`);

try {
  const connect = async (user, password) => {
    const client = new pg.Client({ ...pgAt, database: 'vectors', user, password, ssl: { rejectUnauthorized: false } });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const readerDb = await connect('compose-job', reader);
  const nearest = await readerDb.query('SELECT id, title FROM documents ORDER BY embedding <-> $1 LIMIT 3', [
    '[1,0,0]',
  ]);
  const titles = nearest.rows.map((row) => `${row.id} ${row.title}`).join('; ');
  check('SQL nearest', nearest.rows.length === 3 && titles.startsWith('1 Refund policy; 3 '), titles);
  const ticket = (await readerDb.query('SELECT body FROM documents WHERE id = 3')).rows[0]?.body ?? '';
  check('SQL masked', ticket.includes('j***@example.com') && !ticket.includes('jane.roe@example.com'), ticket);
  await readerDb.end();

  const indexerDb = await connect('compose-indexer', indexer);
  let held = '';
  indexerDb.on('notice', (notice) => {
    held = notice.message ?? '';
    const id = /review (rv_\w+)/.exec(held)?.[1];
    if (id) gatehouse('reviews', 'deny', id, '--reason', 'compose check', '--token', approver);
  });
  let refused = '';
  try {
    await indexerDb.query('BEGIN');
    await indexerDb.query('DELETE FROM documents');
    refused = 'DELETE was NOT refused';
  } catch (error) {
    refused = `${error.code}: ${error.message}`;
  } finally {
    await indexerDb.end().catch(() => undefined);
  }
  check('SQL DELETE held', /waiting for 1 approval from data-owners/.test(held), held || 'no notice');
  check('SQL DELETE refused', refused.startsWith('42501'), refused);
  const direct = new pg.Client({ connectionString: env('VECTORS_URL') });
  await direct.connect();
  const count = Number((await direct.query('SELECT count(*) AS n FROM documents')).rows[0].n);
  await direct.end();
  check('backend untouched', count === 6, `${count} documents on the backend`);
} catch (error) {
  // One line naming what broke, not a stack: the SQL path stopped before all its checks ran.
  check('SQL path', false, `${error.code ?? ''} ${error.message}`.trim());
}

console.log(failed === 0 ? 'compose check: all passed' : `compose check: ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
