import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import {
  ensureListenerCertificate,
  startVectorsBackend,
  type VectorsBackend,
} from '../../src/quickstart/vectors-backend.js';

export const QUICKSTART_CONFIG = new URL('../../examples/quickstart/gatehouse.yaml', import.meta.url).pathname;

export interface QuickstartGateway {
  readonly gateway: Gateway;
  readonly vectors: VectorsBackend;
  /** The gateway's PostgreSQL listener. */
  readonly host: string;
  readonly port: number;
  /** Where the certificate the listener serves was written. */
  readonly certFile: string;
  mint(subject: string, groups: readonly string[]): Promise<string>;
  /** Settings for a client of the gateway, logging in with `token` to the `vectors` resource. */
  clientConfig(token: string): { host: string; port: number; user: string; password: string; database: string };
  /** Settings for a client straight to PGlite, with the resource's own credential. */
  directConfig(): { host: string; port: number; user: string; password: string; database: string };
  stop(): Promise<void>;
}

/**
 * The quickstart as `gatehouse quickstart` assembles it: the real examples/quickstart/gatehouse.yaml (copied into a
 * temp dir, so its `.gatehouse/` files land there), PGlite with pgvector behind it, the whole Gateway on free ports.
 */
export async function startQuickstartGateway(): Promise<QuickstartGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-quickstart-'));
  const file = join(dir, 'gatehouse.yaml');
  await copyFile(QUICKSTART_CONFIG, file);
  const configured = loadConfigFile(file, { ...process.env, GATEHOUSE_LLM_URL: 'http://127.0.0.1:9' });
  await ensureListenerCertificate(configured);
  const vectors = await startVectorsBackend(configured, { freePort: true });
  const loaded = vectors.loaded;
  const free = { host: '127.0.0.1', port: 0 };
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(loaded, {
      logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
      listen: { postgres: free, http: free },
    });
  } catch (error) {
    await vectors.stop();
    throw error;
  }
  const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
  const pgAddress = gateway.addresses.postgres as { host: string; port: number };
  const target = vectors.loaded.config.resources.find((r) => r.name === 'vectors');
  if (target?.protocol !== 'postgres') throw new Error('no vectors resource');
  return {
    gateway,
    vectors,
    host: pgAddress.host,
    port: pgAddress.port,
    certFile: join(dir, loaded.config.postgres.tls?.cert ?? ''),
    mint: (subject, groups) => issuer.mint({ subject, groups, ttlMs: 600_000 }),
    clientConfig: (token) => ({ ...pgAddress, user: 'agent', password: token, database: 'vectors' }),
    directConfig: () => ({
      host: vectors.address.host,
      port: vectors.address.port,
      user: target.target.user,
      password: target.target.password ?? '',
      database: target.target.database,
    }),
    async stop() {
      await gateway.stop();
      await vectors.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
