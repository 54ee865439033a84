import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Background, type CommandLog, startBackground, waitForPort } from '../lib/processes.js';

export interface PgBackend {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/**
 * pgbouncer in session pooling: each pgbench client keeps one server connection for its session, as it does through
 * Gatehouse (which opens a backend connection per client session), and `-M prepared` works (pgbouncer 1.18 cannot
 * carry prepared statements in transaction pooling). SCRAM-SHA-256 on both sides: the auth file holds the plain
 * password, so pgbouncer can answer the client's SCRAM exchange and run its own to the server.
 */
export async function startPgbouncer(
  log: CommandLog,
  dir: string,
  port: number,
  alias: string,
  backend: PgBackend,
): Promise<Background> {
  writeFileSync(join(dir, 'userlist.txt'), `"${backend.user}" "${backend.password}"\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    `[databases]
${alias} = host=${backend.host} port=${backend.port} dbname=${backend.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = session
max_client_conn = 200
default_pool_size = 20
logfile = ${join(dir, 'pgbouncer.log')}
`,
  );
  // pgbouncer refuses to run as root: -u drops to the postgres user, which must own its files.
  for (const name of ['userlist.txt', 'pgbouncer.ini', '.']) chownSync(join(dir, name), uid('postgres'), -1);
  const server = startBackground(log, 'pgbouncer', 'pgbouncer', ['-u', 'postgres', join(dir, 'pgbouncer.ini')]);
  await waitForPort(port, server);
  return server;
}

function uid(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no ${user} user on this machine`);
  return Number(line.split(':')[2]);
}
