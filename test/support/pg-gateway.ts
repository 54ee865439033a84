import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { AdminServer } from '../../src/admin/admin-server.js';
import { GatewayMetrics } from '../../src/admin/metrics.js';
import { createApprovals } from '../../src/approvals/create-approvals.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { parseConfig } from '../../src/config/load.js';
import type { PostgresResourceConfig } from '../../src/config/schema.js';
import { type AuditEvent, unfoldResults } from '../../src/core/audit-event.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { JwtVerifier } from '../../src/identity/jwt-verifier.js';
import { PostgresListener, type PostgresListenerOptions } from '../../src/protocols/postgres/listener.js';
import type {
  BackendConnection,
  BackendConnectOptions,
  BackendConnector,
} from '../../src/protocols/postgres/startup/backend-connector.js';
import { DirectConnector } from '../../src/protocols/postgres/startup/direct-connector.js';
import type { GatewayServices } from '../../src/protocols/protocol-services.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { startPostgres, type TestPostgres } from './embedded-postgres.js';

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
  /** Every audit event written so far, an operation carrying its result as the two it stands for (`unfoldResults`). */
  events(): Promise<AuditEvent[]>;
  stop(): Promise<void>;
}

/**
 * The real pieces in one process: PostgreSQL 18 (embedded-postgres), a SQLite audit store, the dev token issuer and
 * JWT verifier, the policy engine over a YAML config, and the PostgreSQL listener on a free port.
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
  const yaml = `
listen:
  postgres: 127.0.0.1:0
postgres:
  allowPlaintextPassword: true # loopback only, as in the quickstart
log:
  level: silent
identity:
  devIssuer:
    enabled: true
    keyFile: dev-issuer.jwk.json
store:
  sqlite:
    path: audit.db
resources:
  - name: app
    protocol: postgres
    target:
      host: ${backend.host}
      port: ${backend.port}
      database: ${backend.database}
      user: ${backend.user}
      password: \${env:PG_TEST_PASSWORD}${options.targetYaml ?? ''}
    policy:${options.policy ?? PG_TEST_POLICY}${options.resourceYaml ?? ''}
${options.topLevelYaml ?? ''}`;
  const { config, baseDir } = parseConfig(yaml, join(dir, 'gatehouse.yaml'), { PG_TEST_PASSWORD: backend.password });
  const logger = pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' });
  const store = await SqliteStore.open(join(baseDir, 'audit.db'));
  await store.migrate();
  const recorder = new AuditRecorder(store, { logger });
  const issuer = await DevIssuer.open(config.identity.devIssuer, baseDir, systemClock);
  const { policy, approvals } = createApprovals({ config, store, recorder, clock: systemClock, logger });
  const services: GatewayServices = {
    config,
    baseDir,
    verifier: new JwtVerifier({ issuers: [], trustedLocal: [issuer.localIssuer()], clock: systemClock, logger }),
    policy,
    approvals,
    store,
    recorder,
    clock: systemClock,
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    logger,
  };
  const connector = new CountingConnector();
  const listener = new PostgresListener(services, config.listen.postgres, { connector, ...options.listener });
  await approvals.start();
  const { host, port } = await listener.start();
  const admin = options.admin
    ? new AdminServer({
        address: { host: '127.0.0.1', port: 0 },
        metrics: services.metrics,
        reviews: { approvals, verifier: services.verifier, clock: systemClock },
        readiness: () => store.ping(),
      })
    : undefined;
  const adminAddress = await admin?.start();
  return {
    backend,
    host,
    port,
    connector,
    store,
    recorder,
    services,
    adminUrl: adminAddress === undefined ? undefined : `http://127.0.0.1:${adminAddress.port}`,
    mint: (subject, groups, ttlMs = 600_000) => issuer.mint({ subject, groups, ttlMs }),
    clientConfig: (token, database = 'app') => ({ host, port, user: 'agent', password: token, database }),
    async admin() {
      const client = new pg.Client({ connectionString: backend.url });
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
      // As the gateway stops: held statements are released first, then sessions end.
      await approvals.stop();
      await listener.stop();
      await admin?.stop();
      await recorder.close();
      await store.close();
      if (options.backend === undefined) await backend.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
