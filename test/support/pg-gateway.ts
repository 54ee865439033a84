import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { AuditRecorder } from '../../src/audit/recorder.js';
import { parseConfig } from '../../src/config/load.js';
import type { PostgresResourceConfig } from '../../src/config/schema.js';
import { type AuditEvent, unfoldResults } from '../../src/core/audit-event.js';
import { systemClock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { PostgresListener, type PostgresListenerOptions } from '../../src/protocols/postgres/listener.js';
import type {
  BackendConnection,
  BackendConnectOptions,
  BackendConnector,
} from '../../src/protocols/postgres/startup/backend-connector.js';
import { DirectConnector } from '../../src/protocols/postgres/startup/direct-connector.js';
import type { GatewayServices } from '../../src/protocols/protocol-services.js';
import type { Store } from '../../src/store/store.js';
import { startPostgres, type TestPostgres } from './embedded-postgres.js';
import { gatewayConfigYaml, postgresTargetYaml } from './gateway-config.js';

/** The policy the PostgreSQL tests run under, on one resource named `app`. */
export const PG_TEST_POLICY = `
      - groups: [rag-readers]
        allow: [read]
        deny: [write, ddl, admin]
      - groups: [indexers]
        allow: [read, write]
        review: [delete-without-where]
      - groups: [admins]
        allow: [read, write, ddl, admin]
`;

/** Counts backend connections, so tests can show a refused login never reached the backend. */
export class CountingConnector implements BackendConnector {
  connections = 0;
  readonly options: BackendConnectOptions[] = [];
  private readonly inner = new DirectConnector();

  connect(resource: PostgresResourceConfig, options: BackendConnectOptions): Promise<BackendConnection> {
    this.connections++;
    this.options.push(options);
    return this.inner.connect(resource, options);
  }
}

export interface PgGateway {
  readonly backend: TestPostgres;
  readonly host: string;
  readonly port: number;
  readonly connector: CountingConnector;
  readonly store: Store;
  readonly recorder: AuditRecorder;
  /** The services the listener runs with (`services.approvals` holds statements sent to review). */
  readonly services: GatewayServices;
  /** Base URL of the admin listener (approvers' REST API), when started with `admin: true`. */
  readonly adminUrl: string | undefined;
  mint(subject: string, groups: readonly string[], ttlMs?: number): Promise<string>;
  /** Connection settings for a client logging in to the gateway with `token`. */
  clientConfig(
    token: string,
    database?: string,
  ): { host: string; port: number; user: string; password: string; database: string };
  /** A client straight to the backend with its own credential, for setup and for checking what really happened. */
  admin(): Promise<pg.Client>;
  /** Runs `fn` on a client straight to the backend, then ends the client. */
  withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** A connected client of the gateway with `token`; its errors are the test's to read (no unhandled 'error'). */
  connect(token: string): Promise<pg.Client>;
  /** Every audit event written so far, an operation carrying its result as the two it stands for (`unfoldResults`). */
  events(): Promise<AuditEvent[]>;
  stop(): Promise<void>;
}

/**
 * The real gateway (`Gateway.start`, as `gatehouse serve` composes it: store, audit, approvals, quotas, forensic
 * copies, metrics) with one PostgreSQL resource named `app` on PostgreSQL 18 (embedded-postgres), the dev token
 * issuer, and the PostgreSQL listener on a free port behind a connector that counts backend connections.
 */
export async function startPgGateway(
  options: {
    listener?: PostgresListenerOptions;
    backend?: TestPostgres;
    /** Extra YAML for the `app` resource (indented by 4 spaces), e.g. a `masking:` block. */
    resourceYaml?: string;
    /** Extra YAML inside the `app` resource's `target` (indented by 6 spaces), e.g. a `readOnlyLogin:` block. */
    targetYaml?: string;
    /** Extra top-level YAML, e.g. `masking: { tokenKey: ... }`. */
    topLevelYaml?: string;
    /** Rules of the `app` resource instead of PG_TEST_POLICY (indented by 6 spaces, each line starting with `- `). */
    policy?: string;
    /** Also start the admin listener with the approvers' REST API (`adminUrl`). */
    admin?: boolean;
  } = {},
): Promise<PgGateway> {
  const backend = options.backend ?? (await startPostgres());
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-gw-'));
  const yaml = gatewayConfigYaml({
    logLevel: 'silent',
    devIssuer: { keyFile: 'dev-issuer.jwk.json' },
    // Records straight into the log (no spool), so `events()` and the tests' own reads see each one once flushed.
    store: { spool: false },
    body: `listen:
  postgres: 127.0.0.1:0
postgres:
  allowPlaintextPassword: true # loopback only, as in the quickstart
resources:
  - name: app
    protocol: postgres
${postgresTargetYaml(backend, 'PG_TEST_PASSWORD').trimEnd()}${options.targetYaml ?? ''}
    policy:${options.policy ?? PG_TEST_POLICY}${options.resourceYaml ?? ''}
${options.topLevelYaml ?? ''}`,
  });
  const loaded = parseConfig(yaml, join(dir, 'gatehouse.yaml'), { PG_TEST_PASSWORD: backend.password });
  const { config, baseDir } = loaded;
  const connector = new CountingConnector();
  const free = { host: '127.0.0.1', port: 0 };
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(loaded, {
      logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
      ...(options.admin ? { listen: { admin: free } } : {}),
      listeners: {
        postgres: (services, address) => new PostgresListener(services, address, { connector, ...options.listener }),
      },
    });
  } catch (error) {
    if (options.backend === undefined) await backend.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const issuer = await DevIssuer.open(config.identity.devIssuer, baseDir, systemClock);
  const { services } = gateway;
  const { store, recorder } = services;
  const address = gateway.addresses.postgres;
  if (address === undefined) throw new Error('the gateway started no PostgreSQL listener');
  const { host, port } = address;
  return {
    backend,
    host,
    port,
    connector,
    store,
    recorder,
    services,
    adminUrl: gateway.addresses.admin === undefined ? undefined : `http://127.0.0.1:${gateway.addresses.admin.port}`,
    mint: (subject, groups, ttlMs = 600_000) => issuer.mint({ subject, groups, ttlMs }),
    clientConfig: (token, database = 'app') => ({ host, port, user: 'agent', password: token, database }),
    async admin() {
      const client = new pg.Client({ connectionString: backend.url });
      await client.connect();
      return client;
    },
    async withAdmin(fn) {
      const client = new pg.Client({ connectionString: backend.url });
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end();
      }
    },
    async connect(token) {
      const client = new pg.Client({ host, port, user: 'agent', password: token, database: 'app' });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    async events() {
      await recorder.flush();
      const all: AuditEvent[] = [];
      for (
        let page = await store.readEvents(0, 1000);
        page.length > 0;
        page = await store.readEvents(all.at(-1)?.id ?? 0, 1000)
      ) {
        all.push(...page);
      }
      return unfoldResults(all);
    },
    async stop() {
      // As `gatehouse serve` stops: held statements released, sessions ended, audit flushed, store closed.
      await gateway.stop();
      if (options.backend === undefined) await backend.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
