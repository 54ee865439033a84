import type { Logger } from 'pino';
import { AdminServer } from '../admin/admin-server.js';
import { GatewayMetrics } from '../admin/metrics.js';
import { AuditRecorder } from '../audit/recorder.js';
import type { LoadedConfig } from '../config/load.js';
import type { ListenAddress } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { createTokenVerifier } from '../identity/create-verifier.js';
import { PolicyEngine } from '../policy/engine.js';
import { openStore } from '../store/open-store.js';
import { createLogger } from './logger.js';
import { PROTOCOL_LISTENERS } from './protocol-registry.js';
import type { GatewayServices, Listener } from './services.js';

export interface GatewayOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Replace configured listen addresses (tests use port 0). */
  readonly listen?: Partial<Record<'http' | 'postgres' | 'admin', ListenAddress>>;
}

export interface BoundAddresses {
  http?: { host: string; port: number };
  postgres?: { host: string; port: number };
  admin?: { host: string; port: number };
}

/** Wires the shared services, starts each configured protocol listener and the admin server, and stops them in order. */
export class Gateway {
  readonly addresses: BoundAddresses = {};
  private readonly listeners: Listener[] = [];
  private admin: AdminServer | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(readonly services: GatewayServices) {}

  static async start(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const { config, baseDir } = loaded;
    const logger = options.logger ?? createLogger(config.log.level);
    const clock = options.clock ?? systemClock;
    const store = await openStore(config.store, baseDir);
    const metrics = new GatewayMetrics();
    const services: GatewayServices = {
      config,
      baseDir,
      logger,
      clock,
      store,
      metrics,
      verifier: await createTokenVerifier(config, baseDir, clock, logger),
      policy: new PolicyEngine(config.resources),
      recorder: new AuditRecorder(store, { logger }),
    };
    const gateway = new Gateway(services);
    try {
      await gateway.startListeners(options.listen ?? {});
    } catch (error) {
      await gateway.stop();
      throw error;
    }
    return gateway;
  }

  private async startListeners(overrides: GatewayOptions['listen'] & object): Promise<void> {
    const { config, logger } = this.services;
    for (const protocol of ['http', 'postgres'] as const) {
      const address = overrides[protocol] ?? config.listen[protocol];
      if (!address) continue;
      const factory = PROTOCOL_LISTENERS[protocol];
      if (!factory) throw new Error(`protocol ${protocol} is not available in this build`);
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
        readiness: async () => {
          if (this.stopping) throw new Error('stopping');
          await this.services.store.ping();
        },
      });
      this.addresses.admin = await this.admin.start();
      logger.info({ address: this.addresses.admin }, 'admin endpoints listening');
    }
  }

  /** Stops listeners (ending their sessions), then flushes audit and closes the store. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled(this.listeners.map((listener) => listener.stop()));
      await this.admin?.stop();
      await this.services.recorder.close().catch(() => undefined);
      await this.services.store.close();
    })();
    return this.stopping;
  }
}
