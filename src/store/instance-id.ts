import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { GatehouseError } from '../core/errors.js';
import { CHAIN_NAME } from './hash-chain.js';

/** Where an instance id made here is kept, relative to the config file's directory. */
const INSTANCE_ID_FILE = '.gatehouse/instance-id';

/**
 * This gateway instance's id, which names its hash chain: `configured` (store.postgres.instanceId), else the
 * GATEHOUSE_INSTANCE_ID variable (e.g. a Kubernetes pod's name through the downward API), else one made once from the
 * host name and a random suffix and kept in INSTANCE_ID_FILE, so a restarted instance continues its own chain.
 */
export function resolveInstanceId(configured: string | undefined, baseDir: string): string {
  const given = configured ?? process.env.GATEHOUSE_INSTANCE_ID;
  if (given !== undefined && given !== '')
    return checked(given, configured !== undefined ? 'store.postgres.instanceId' : 'GATEHOUSE_INSTANCE_ID');
  const path = resolve(baseDir, INSTANCE_ID_FILE);
  try {
    return checked(readFileSync(path, 'utf8').trim(), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 50) || 'gateway';
  const made = `${host}-${randomBytes(3).toString('hex')}`;
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, `${made}\n`, { flag: 'wx' });
    return made;
  } catch (error) {
    // Another process started from the same directory made it first: it is the same instance, and the chain's lock
    // will refuse the second.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return checked(readFileSync(path, 'utf8').trim(), path);
    throw error;
  }
}

function checked(id: string, source: string): string {
  if (!CHAIN_NAME.test(id)) {
    throw new GatehouseError('config.invalid', `${source}: an instance id is letters, digits, ., _ or - (at most 63)`);
  }
  return id;
}
