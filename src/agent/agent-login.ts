import { readFileSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresResourceConfig } from '../config/schema.js';
import type { AgentPostgresResource } from './agent-config.js';
import { ReadWriteLock } from './read-write-lock.js';

/**
 * The agent's own backend login for one PostgreSQL resource. Every login with it (relayed sessions, the admin pool)
 * reads the password and authenticates while holding the shared side of a lock; a rotation holds the exclusive side
 * from writing the new password to its side file until the file is in place. So no login can read a password that
 * the backend is about to stop accepting.
 */
export class AgentLogin {
  private readonly lock = new ReadWriteLock();
  /** Absolute path of the password file, when the password lives in one (it must, for rotation). */
  readonly passwordFile: string | undefined;

  constructor(
    private readonly resource: AgentPostgresResource,
    baseDir: string,
  ) {
    const file = resource.target.passwordFile;
    this.passwordFile = file === undefined ? undefined : resolve(baseDir, file);
  }

  /** Where a rotation in progress keeps the new password until the backend has it. */
  get pendingFile(): string | undefined {
    return this.passwordFile === undefined ? undefined : `${this.passwordFile}.next`;
  }

  /** Runs `connect` with the login as it is now; a rotation waits until it has finished, and the other way round. */
  whileLoggingIn<T>(connect: (login: PostgresResourceConfig) => Promise<T>): Promise<T> {
    return this.lock.shared(() => connect(this.current()));
  }

  /** Runs a password change: no login starts or is under way meanwhile. */
  changing<T>(change: () => Promise<T>): Promise<T> {
    return this.lock.exclusive(change);
  }

  /**
   * A side file left by a rotation that did not finish (a crash, or an ALTER ROLE whose answer was lost): keeps the
   * password the backend accepts. The pending one wins if it logs in; it is dropped only once the current one is
   * shown to work, so a password is never thrown away while it may be the only one the backend accepts.
   */
  async settlePending(logger: Logger): Promise<void> {
    const pendingFile = this.pendingFile;
    if (pendingFile === undefined || this.passwordFile === undefined) return;
    let pending: string;
    try {
      pending = readFileSync(pendingFile, 'utf8').trim();
    } catch {
      return;
    }
    await this.changing(async () => {
      if (await this.canLogIn(pending)) {
        renameSync(pendingFile, this.passwordFile as string);
        logger.warn({ resource: this.resource.name }, 'an unfinished password rotation was completed');
      } else if (await this.canLogIn(this.current().target.password ?? '')) {
        rmSync(pendingFile, { force: true });
        logger.warn({ resource: this.resource.name }, 'an unfinished password rotation was rolled back');
      } else
        logger.error(
          { resource: this.resource.name },
          'neither the current nor the pending password logs in; both files are kept',
        );
    });
  }

  /** The resource config of this login with the password read now (a rotated one is used at once). */
  current(): PostgresResourceConfig {
    const { target } = this.resource;
    const password = this.passwordFile !== undefined ? readFileSync(this.passwordFile, 'utf8').trim() : target.password;
    return {
      name: this.resource.name,
      protocol: 'postgres',
      via: 'direct',
      readFunctions: [],
      policy: [],
      target: {
        host: target.host,
        port: target.port,
        database: target.database,
        user: target.user,
        tls: target.tls,
        ...(password === undefined ? {} : { password }),
      },
    };
  }

  private async canLogIn(password: string): Promise<boolean> {
    const { target } = this.resource;
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password,
      ssl: target.tls ? { rejectUnauthorized: true } : false,
      connectionTimeoutMillis: 10_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
