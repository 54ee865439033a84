import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serialize } from 'pg-protocol';
import { type PgGateway, startPgGateway } from '../../support/pg-gateway.js';
import { RawClient } from '../../support/pg-raw-client.js';

/**
 * The promise: when a client walks away from a large result, its query on the backend ends at once. The backend is
 * then blocked writing rows nobody reads (wait event ClientWrite), where it reads neither a Terminate nor acts on a
 * cancel; the gateway must drop the connection rather than wait for its 5 s timer. Checked on the backend itself.
 */
describe('PostgreSQL: an abandoned large result ends its backend query promptly', () => {
  let gw: PgGateway;

  before(async () => {
    gw = await startPgGateway();
  });
  after(async () => {
    await gw?.stop();
  });

  const activity = async () => {
    const admin = await gw.admin();
    try {
      const { rows } = await admin.query<{ wait_event: string | null }>(
        "select wait_event from pg_stat_activity where query like '%abandoned_marker%' and pid <> pg_backend_pid()",
      );
      return rows;
    } finally {
      await admin.end();
    }
  };

  const abandon = async (leave: (client: RawClient) => void) => {
    const token = await gw.mint('reader-job', ['rag-readers']);
    const client = await RawClient.login(gw.host, gw.port, token);
    // Stop reading: the gateway's writes to this client fill up, it pauses the backend, the backend blocks.
    client.socket.pause();
    client.write(
      serialize.query("select repeat('x', 2000) || i as abandoned_marker from generate_series(1, 20000000) i"),
    );
    let blocked = false;
    for (let i = 0; i < 100 && !blocked; i++) {
      await new Promise((r) => setTimeout(r, 100));
      blocked = (await activity()).some((row) => row.wait_event === 'ClientWrite');
    }
    assert.ok(blocked, 'the backend is blocked writing the result');
    leave(client);
    const leftAt = performance.now();
    let still = 1;
    while (still > 0 && performance.now() - leftAt < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
      still = (await activity()).length;
    }
    const elapsed = performance.now() - leftAt;
    console.log(`# backend query ended ${elapsed.toFixed(0)} ms after the client left`);
    assert.equal(still, 0);
    assert.ok(elapsed < 1_000, `ended promptly (${elapsed.toFixed(0)} ms), not after the 5 s timer`);
  };

  it('when the client says Terminate and closes (as drivers do on end())', () =>
    abandon((client) => client.socket.end(serialize.end())));

  it('when the client connection just drops', () => abandon((client) => client.socket.destroy()));
});
