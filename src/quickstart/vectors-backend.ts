import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { LoadedConfig } from '../config/load.js';
import type { PostgresResourceConfig } from '../config/schema.js';
import { GatehouseError } from '../core/errors.js';
import { PgliteServer } from './pglite-server.js';
import { ensureQuickstartCertificate } from './quickstart-certificate.js';
import { openVectorsDatabase } from './vectors-database.js';

/** The resource the quickstart serves from PGlite. */
const VECTORS_RESOURCE = 'vectors';

export interface VectorsBackend {
  /** The config with the resource's target pointing at where PGlite really listens. */
  readonly loaded: LoadedConfig;
  readonly db: PGlite;
  readonly address: { host: string; port: number };
  stop(): Promise<void>;
}

export interface VectorsBackendOptions {
  /** Keep the database in this directory (relative to the config file); in memory when absent. */
  readonly dataDir?: string;
  /** Listen on a free port instead of the resource's configured one (the `--once` self-check). */
  readonly freePort?: boolean;
}

/**
 * Starts the quickstart's `vectors` database: PGlite with pgvector, seeded, served on the resource's target address
 * with the resource's own credential, so the gateway logs in to it exactly as it would to a real PostgreSQL server.
 */
export async function startVectorsBackend(
  loaded: LoadedConfig,
  options: VectorsBackendOptions = {},
): Promise<VectorsBackend> {
  const resource = vectorsResource(loaded);
  const { host, port, user, password } = resource.target;
  if (password === undefined)
    throw new GatehouseError('config.invalid', `resources.${VECTORS_RESOURCE}.target.password is required`);
  const db = await openVectorsDatabase(
    options.dataDir === undefined ? undefined : resolve(loaded.baseDir, options.dataDir),
  );
  const server = new PgliteServer({ db, host, port: options.freePort ? 0 : port, user, password });
  let address: { host: string; port: number };
  try {
    address = await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  const target = { ...resource.target, port: address.port };
  const resources = loaded.config.resources.map((r) => (r === resource ? { ...resource, target } : r));
  return {
    loaded: { ...loaded, config: { ...loaded.config, resources } },
    db,
    address,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/** Writes the PostgreSQL listener's self-signed certificate on first run, where `postgres.tls` expects it. */
export async function ensureListenerCertificate(loaded: LoadedConfig): Promise<boolean> {
  const tls = loaded.config.postgres.tls;
  if (tls === undefined) return false;
  return ensureQuickstartCertificate({
    cert: resolve(loaded.baseDir, tls.cert),
    key: resolve(loaded.baseDir, tls.key),
  });
}

function vectorsResource(loaded: LoadedConfig): PostgresResourceConfig {
  const resource = loaded.config.resources.find(
    (r): r is PostgresResourceConfig => r.protocol === 'postgres' && r.name === VECTORS_RESOURCE,
  );
  if (resource === undefined)
    throw new GatehouseError('config.invalid', `the quickstart config has no postgres resource "${VECTORS_RESOURCE}"`);
  return resource;
}

/** The nearest-neighbour query the self-check runs: the three documents closest to a "refunds" embedding. */
export const NEAREST_QUERY = 'SELECT id, title FROM documents ORDER BY embedding <-> $1 LIMIT 3';
export const NEAREST_TO = '[1,0,0]';
/** A seeded ticket with an email, a phone number and a card in its text: the self-check shows it masked. */
const TICKET_QUERY = 'SELECT body FROM documents WHERE id = 3';

/**
 * Shows the SQL path through the gateway: a reader's pgvector query is answered, a ticket's personal data comes back
 * masked (when the resource masks), an indexer's DELETE without a WHERE clause is refused (it needs review). One
 * session at a time, as PGlite serves one.
 */
export async function vectorsSelfCheck(
  gateway: { host: string; port: number },
  tokens: { reader: string; indexer: string },
  /** Called with the NOTICE text when the gateway holds a statement for approval; decides it for the self-check. */
  onHeld?: (notice: string) => Promise<void>,
): Promise<{ allowed: string; ticket: string; refused: string; held?: string }> {
  const connect = async (user: string, token: string) => {
    const client = new pg.Client({
      host: gateway.host,
      port: gateway.port,
      database: VECTORS_RESOURCE,
      user,
      password: token,
      // The quickstart's certificate is self-signed: encrypted, as with psql's sslmode=require, but not verified.
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const reader = await connect('quickstart-job', tokens.reader);
  let allowed: string;
  let ticket: string;
  try {
    const result = await reader.query<{ id: number; title: string }>(NEAREST_QUERY, [NEAREST_TO]);
    allowed = `${result.rows.length} rows: ${result.rows.map((row) => `${row.id} ${row.title}`).join('; ')}`;
    ticket = (await reader.query<{ body: string }>(TICKET_QUERY)).rows[0]?.body ?? 'no row';
  } finally {
    await reader.end();
  }
  const indexer = await connect('quickstart-indexer', tokens.indexer);
  let refused: string;
  let held: string | undefined;
  indexer.on('notice', (notice) => {
    held = notice.message;
    void onHeld?.(notice.message ?? '');
  });
  try {
    // Inside a transaction that is rolled back, so even a policy edited to allow it leaves the seed data alone.
    await indexer.query('BEGIN');
    await indexer.query('DELETE FROM documents');
    await indexer.query('ROLLBACK');
    refused = 'DELETE was NOT refused';
  } catch (error) {
    await indexer.query('ROLLBACK').catch(() => undefined);
    const { code, message } = error as { code?: string; message: string };
    refused = `refused ${code ?? ''}: ${message}`;
  } finally {
    await indexer.end();
  }
  if (held !== undefined) return { allowed, ticket, refused, held };
  return { allowed, ticket, refused };
}
