import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type QuickstartGateway, startQuickstartGateway } from '../../quickstart/quickstart-gateway.js';

const run = promisify(execFile);
// Debian's interpreter, where apt's python3-psycopg lives (a pyenv shim on PATH may not see it).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** psycopg 3 (libpq underneath): a simple query, a parameterised (server-side bound) one, then a denied statement. */
const SCRIPT = `
import json, os, sys
import psycopg
out = {}
with psycopg.connect(os.environ["GH_DSN"], password=os.environ["GH_TOKEN"]) as conn:
    out["ssl"] = conn.pgconn.ssl_in_use
    cur = conn.execute("SELECT count(*) FROM documents")
    out["count"] = cur.fetchone()[0]
    conn.rollback()
    cur = conn.execute(
        "SELECT id, title FROM documents WHERE tenant_id = %s ORDER BY embedding <-> %s::vector LIMIT %s",
        ("acme", "[1,0,0]", 2),
    )
    out["nearest"] = [list(row) for row in cur.fetchall()]
    conn.rollback()
    try:
        conn.execute("DELETE FROM documents WHERE id = %s", (1,))
        out["denied"] = None
    except psycopg.Error as error:
        out["denied"] = {"sqlstate": error.sqlstate, "message": error.diag.message_primary}
        conn.rollback()
    out["after"] = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
print(json.dumps(out))
`;

describe('psycopg (Python) through the gateway', () => {
  let qs: QuickstartGateway;

  before(async () => {
    qs = await startQuickstartGateway();
  });
  after(() => qs?.stop());

  test('psycopg is installed (python3-psycopg from Debian, see .ci/run)', async () => {
    const { stdout } = await run(PYTHON, ['-c', 'import psycopg; print(psycopg.__version__)']);
    assert.match(stdout.trim(), /^3\./);
  });

  for (const sslmode of ['require', 'disable'] as const) {
    test(`simple query, parameterised query and a denied DELETE (sslmode=${sslmode})`, async () => {
      const token = await qs.mint('python-rag', ['rag-readers']);
      const { stdout } = await run(PYTHON, ['-c', SCRIPT], {
        env: {
          ...process.env,
          GH_DSN: `host=${qs.host} port=${qs.port} dbname=vectors user=python-rag sslmode=${sslmode}`,
          GH_TOKEN: token,
        },
      });
      const out = JSON.parse(stdout) as {
        ssl: boolean;
        count: number;
        nearest: [number, string][];
        denied: { sqlstate: string; message: string } | null;
        after: number;
      };
      assert.equal(out.ssl, sslmode === 'require');
      assert.equal(out.count, 6);
      assert.deepEqual(out.nearest, [
        [1, 'Refund policy'],
        [3, 'Ticket 4711: refund request'],
      ]);
      assert.ok(out.denied, 'the DELETE was not refused');
      assert.equal(out.denied.sqlstate, '42501');
      assert.match(out.denied.message, /permission denied for DELETE/);
      assert.equal(out.after, 6);
    });
  }

  test('a wrong token is refused, and the refusal does not echo it', async () => {
    const script = `
import os, psycopg
try:
    psycopg.connect(os.environ["GH_DSN"], password="not-a-token")
    print("connected")
except psycopg.OperationalError as error:
    print("refused", error)
`;
    const { stdout } = await run(PYTHON, ['-c', script], {
      env: { ...process.env, GH_DSN: `host=${qs.host} port=${qs.port} dbname=vectors user=x sslmode=require` },
    });
    assert.match(stdout, /^refused/);
    assert.doesNotMatch(stdout, /not-a-token/);
  });
});
