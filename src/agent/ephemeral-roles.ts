import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminPool } from './admin-pool.js';
import type { AgentPostgresResource } from './agent-config.js';
import { randomPassword, scramVerifier } from './scram-verifier.js';

type EphemeralConfig = NonNullable<AgentPostgresResource['ephemeralRoles']>;

export interface SessionRole {
  readonly user: string;
  readonly password: string;
  drop(): Promise<void>;
}

/**
 * One login role per backend session: created with a random password (sent as a SCRAM verifier) and a VALID UNTIL,
 * made a member of the configured read-write or read-only role, dropped when the session ends. Roles left by a crash
 * carry the prefix and are swept at start. The agent's own login needs CREATEROLE and ADMIN OPTION on both roles.
 */
export class EphemeralRoles {
  constructor(
    private readonly config: EphemeralConfig,
    private readonly pool: Pick<AdminPool, 'query'>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async create(readOnly: boolean): Promise<SessionRole> {
    const user = `${this.config.prefix}${randomBytes(8).toString('hex')}`;
    const password = randomPassword();
    const grant = readOnly ? this.config.readOnly : this.config.readWrite;
    const until = new Date(this.now() + this.config.validFor).toISOString();
    await this.pool.query(
      `CREATE ROLE ${ident(user)} LOGIN INHERIT PASSWORD ${literal(scramVerifier(password))} VALID UNTIL ${literal(until)} IN ROLE ${ident(grant)}`,
    );
    return { user, password, drop: () => this.drop(user) };
  }

  /**
   * Drops leftovers of an earlier run (crash): roles with the prefix that no session uses, or whose VALID UNTIL has
   * passed. A role in use belongs to another agent serving the same backend (or to a session the backend has not yet
   * noticed is gone): sweeping it would cut that agent's live session. A dead agent's sessions end when the backend
   * sees its sockets close, so its roles are free by the next start; VALID UNTIL bounds any that linger. Not covered:
   * a sibling's role in the milliseconds between its CREATE ROLE and its login (that one session start fails cleanly).
   */
  async sweep(): Promise<number> {
    const { rows } = await this.pool.query<{ rolname: string }>(
      `SELECT r.rolname FROM pg_roles r WHERE starts_with(r.rolname, $1)
         AND (r.rolvaliduntil < now() OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.usename = r.rolname))`,
      [this.config.prefix],
    );
    for (const row of rows) await this.drop(row.rolname);
    if (rows.length > 0) this.logger.info({ count: rows.length }, 'swept leftover session roles');
    return rows.length;
  }

  private async drop(user: string): Promise<void> {
    // The session's backend may still be exiting: end it first, then drop (retried briefly).
    await this.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [user]);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.pool.query(`DROP ROLE IF EXISTS ${ident(user)}`);
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
