import pg from 'pg';
import type { AgentLogin } from './agent-login.js';

/**
 * A tiny pool of connections as the agent's own backend login, for role management (ephemeral roles, rotation).
 * Taking a connection happens inside the login's lock: a new one reads the password and logs in while no rotation
 * can change it.
 */
export class AdminPool {
  private readonly pool: pg.Pool;

  constructor(private readonly login: AgentLogin) {
    const { target } = login.current();
    this.pool = new pg.Pool({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: () => login.current().target.password ?? '',
      ssl: target.tls ? { rejectUnauthorized: true } : false,
      max: 2,
      idleTimeoutMillis: 10_000,
      application_name: 'gatehouse-agent',
    });
    this.pool.on('error', () => undefined);
  }

  connect(): Promise<pg.PoolClient> {
    return this.login.whileLoggingIn(() => this.pool.connect());
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const client = await this.connect();
    try {
      return await client.query<R>(text, values);
    } finally {
      client.release();
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}
