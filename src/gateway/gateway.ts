import type { Logger } from 'pino';
import { AdminServer } from '../admin/admin-server.js';
import { GatewayMetrics } from '../admin/metrics.js';
import { createApprovals } from '../approvals/create-approvals.js';
import { AuditServices } from '../audit/audit-services.js';
import { AuditRecorder } from '../audit/recorder.js';
import type { LoadedConfig } from '../config/load.js';
import type { ListenAddress } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { Listener } from '../core/listener.js';
import { createTokenVerifier } from '../identity/create-verifier.js';
import { classifierCounts } from '../protocols/postgres/sql/classify.js';
import { Quotas } from '../quotas/quotas.js';
import type { SessionServices } from '../session/session.js';
import { openStore } from '../store/open-store.js';
import { TunnelServer } from '../tunnel/tunnel-server.js';
import { startAgentTunnel } from './agent-tunnel.js';
import { createLogger } from './logger.js';
import { PROTOCOL_LISTENERS } from './protocol-registry.js';
import { Readiness } from './readiness.js';
import type { ComposedServices } from './services.js';

export interface GatewayOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Replace configured listen addresses (tests use port 0). */
  readonly listen?: Partial<Record<'http' | 'postgres' | 'admin' | 'agents', ListenAddress>>;
}

export interface BoundAddresses {
  /** Each registered protocol's listener, by its `listen` key. */
  [protocol: string]: { host: string; port: number } | undefined;
  http?: { host: string; port: number };
  postgres?: { host: string; port: number };
  admin?: { host: string; port: number };
  agents?: { host: string; port: number };
}

/** Wires the shared services, starts each configured protocol listener and the admin server, and stops them in order. */
export class Gateway {
  readonly addresses: BoundAddresses = {};
  private readonly listeners: Listener[] = [];
  private admin: AdminServer | undefined;
  private stopping: Promise<void> | undefined;
  private audit: AuditServices | undefined;
  private readonly readiness: Readiness;
  private tunnel: TunnelServer | undefined;

  private constructor(readonly services: ComposedServices) {
    const lease = services.approvals.lease;
    this.readiness = new Readiness({
      store: services.store,
      counts: services.recorder.counts,
      ...(lease === undefined ? {} : { lease }),
      stopping: () => this.stopping !== undefined,
    });
  }

  static async start(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const { config, baseDir } = loaded;
    const logger = options.logger ?? createLogger(config.log.level);
    const clock = options.clock ?? systemClock;
    const store = await openStore(config.store, baseDir, { gateway: true, logger });
    let audit: AuditServices;
    try {
      audit = new AuditServices(config.audit, baseDir, store, clock, logger);
    } catch (error) {
      await store.close();
      throw error;
    }
    const recorder = new AuditRecorder(store, { logger });
    const metrics = new GatewayMetrics({
      sqlClassifier: classifierCounts,
      audit: { counts: recorder.counts, spoolBacklogBytes: () => store.spoolBacklogBytes?.() },
    });
    const { policy, approvals } = createApprovals({ config, store, recorder, clock, logger });
    // `forensic` reaches sessions through the services object (SessionServices reads it when present).
    const verifier = await createTokenVerifier(config, baseDir, clock, logger);
    const tunnel =
      config.agents === undefined
        ? undefined
        : new TunnelServer(startAgentTunnel(loaded, verifier, recorder, clock, logger));
    const services: ComposedServices & Pick<SessionServices, 'forensic'> = {
      config,
      baseDir,
      logger,
      clock,
      store,
      metrics,
      verifier,
      ...(tunnel === undefined ? {} : { agents: tunnel.registry }),
      policy,
      recorder,
      approvals,
      quotas: new Quotas(config.quotas, store, clock),
      forensic: audit.forensic,
    };
    const gateway = new Gateway(services);
    gateway.audit = audit;
    gateway.tunnel = tunnel;
    audit.start();
    try {
      await approvals.start();
      if (tunnel !== undefined) gateway.addresses.agents = await tunnel.start(options.listen?.agents);
      await gateway.startListeners(options.listen ?? {});
    } catch (error) {
      await gateway.stop();
      throw error;
    }
    return gateway;
  }

  private async startListeners(overrides: GatewayOptions['listen'] & object): Promise<void> {
    const { config, logger } = this.services;
    // Every registered protocol whose `listen` key has an address: a new protocol needs no change here.
    const configured: Readonly<Record<string, ListenAddress | undefined>> = config.listen;
    const overridden: Readonly<Record<string, ListenAddress | undefined>> = overrides;
    for (const [protocol, factory] of Object.entries(PROTOCOL_LISTENERS)) {
      const address = overridden[protocol] ?? configured[protocol];
      if (!address) continue;
      const listener = factory(this.services, address);
      this.addresses[protocol] = await listener.start();
      this.listeners.push(listener);
      logger.info({ protocol, address: this.addresses[protocol] }, 'listening');
    }
    const adminAddress = overrides.admin ?? config.listen.admin;
    if (adminAddress) {
      this.admin = new AdminServer({
        address: adminAddress,
        metrics: this.services.metrics,
        reviews: { approvals: this.services.approvals, verifier: this.services.verifier, clock: this.services.clock },
        readiness: async () => {
          await this.readiness.check();
          const agents = this.services.agents;
          return agents === undefined ? undefined : { agents: agents.list() };
        },
      });
      this.addresses.admin = await this.admin.start();
      logger.info({ address: this.addresses.admin }, 'admin endpoints listening');
    }
  }

  /** Stops listeners (ending their sessions), then flushes audit and closes the store. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Released first: callers held for a decision get "still pending" and their sessions can then end.
      await this.services.approvals.stop();
      await Promise.allSettled(this.listeners.map((listener) => listener.stop()));
      await this.tunnel?.stop();
      await this.admin?.stop();
      await this.services.recorder.close().catch(() => undefined);
      await this.audit
        ?.stop()
        .catch((error: unknown) => this.services.logger.error({ err: error }, 'audit stop failed'));
      await this.services.store.close();
    })();
    return this.stopping;
  }
}
