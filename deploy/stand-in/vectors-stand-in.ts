/**
 * The quickstart's `vectors` database (PGlite with pgvector, seeded with its documents) as a process of its own: the
 * pgvector backend of scripts/container-smoke.sh's Compose-like run, where no pgvector image or Debian package can be
 * had. Compiled to dist/standins/vectors.js; serves one session at a time with md5 authentication.
 * Environment: STAND_IN_HOST (default 0.0.0.0), STAND_IN_PORT (5432), STAND_IN_USER (postgres), STAND_IN_PASSWORD
 * (required).
 */
import { PgliteServer } from '../../src/quickstart/pglite-server.js';
import { openVectorsDatabase } from '../../src/quickstart/vectors-database.js';

const password = process.env.STAND_IN_PASSWORD;
if (!password) {
  process.stderr.write('stand-in: STAND_IN_PASSWORD is not set (the password the gateway logs in with)\n');
  process.exit(2);
}
const port = Number(process.env.STAND_IN_PORT ?? 5432);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`stand-in: STAND_IN_PORT is not a port: ${process.env.STAND_IN_PORT}\n`);
  process.exit(2);
}
const db = await openVectorsDatabase();
const server = new PgliteServer({
  db,
  host: process.env.STAND_IN_HOST ?? '0.0.0.0',
  port,
  user: process.env.STAND_IN_USER ?? 'postgres',
  password,
});
const address = await server.start();
process.stdout.write(`stand-in: pgvector database "vectors" on ${address.host}:${address.port}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void server.stop().then(() => db.close().then(() => process.exit(0))));
}
