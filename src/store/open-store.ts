import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.js';
import type { StoreConfig } from './config.js';
import { resolveInstanceId } from './instance-id.js';
import type { StoreMigration } from './migrations.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** The gateway's store: SQLite records through its spool (when the config leaves it on). */
  readonly gateway?: boolean;
  readonly logger?: Logger;
  /** The tables of the modules that own some (see src/gateway/store-migrations.ts): the same for every opener. */
  readonly migrations?: readonly StoreMigration[];
}

/**
 * Opens the configured store, brings its schema up to date and settles it, so what a gateway spooled (even one that
 * crashed) is in the log before anything reads it. Relative SQLite paths resolve against `baseDir`.
 */
export async function openStore(config: StoreConfig, baseDir: string, options: OpenStoreOptions = {}): Promise<Store> {
  const kind = 'sqlite' in config ? 'SQLite' : 'PostgreSQL';
  let store: Store | undefined;
  try {
    store =
      'sqlite' in config
        ? await SqliteStore.open(resolve(baseDir, config.sqlite.path))
        : await PostgresStore.open(config.postgres.url, {
            // The gateway appends to its instance's chain; CLI commands (a forensic read's record) to `cli`.
            chain: options.gateway ? resolveInstanceId(config.postgres.instanceId, baseDir) : 'cli',
          });
    await store.migrate(options.migrations);
    await store.settle();
    if (options.gateway && store instanceof PostgresStore && 'postgres' in config) {
      await store.claimChain({ thread: config.postgres.writerThread });
    }
    if (options.gateway && store instanceof SqliteStore && 'sqlite' in config && config.sqlite.spool) {
      await store.startSpool({ logger: options.logger });
    }
    return store;
  } catch (error) {
    await store?.close().catch(() => undefined);
    if (error instanceof GatehouseError) throw error;
    // The driver's message names the file or the server's complaint; the URL (and any password in it) is not echoed.
    const detail = error instanceof Error ? `: ${error.message}` : '';
    throw new GatehouseError('internal', `cannot open the ${kind} store${detail}`, { cause: error });
  }
}
