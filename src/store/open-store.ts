import { resolve } from 'node:path';
import type { GatehouseConfig } from '../config/schema.js';
import { GatehouseError } from '../core/errors.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** Opens the configured store and brings its schema up to date. Relative SQLite paths resolve against `baseDir`. */
export async function openStore(config: GatehouseConfig['store'], baseDir: string): Promise<Store> {
  const kind = 'sqlite' in config ? 'SQLite' : 'PostgreSQL';
  let store: Store | undefined;
  try {
    store =
      'sqlite' in config
        ? await SqliteStore.open(resolve(baseDir, config.sqlite.path))
        : await PostgresStore.open(config.postgres.url);
    await store.migrate();
    return store;
  } catch (error) {
    await store?.close().catch(() => undefined);
    if (error instanceof GatehouseError) throw error;
    // The driver's message names the file or the server's complaint; the URL (and any password in it) is not echoed.
    const detail = error instanceof Error ? `: ${error.message}` : '';
    throw new GatehouseError('internal', `cannot open the ${kind} store${detail}`, { cause: error });
  }
}
