import pg from 'pg';
import type { PostgresResourceConfig } from '../config/schema.js';

/**
 * A tiny pool of connections as the agent's own backend login, for role management (ephemeral roles, rotation).
 * The password is asked for at each new connection, so a rotated one is picked up.
 */
export function adminPool(login: () => PostgresResourceConfig['target']): pg.Pool {
  const target = login();
  const pool = new pg.Pool({
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: () => login().password ?? '',
    ssl: target.tls ? { rejectUnauthorized: true } : false,
    max: 2,
    idleTimeoutMillis: 10_000,
    application_name: 'gatehouse-agent',
  });
  pool.on('error', () => undefined);
  return pool;
}
