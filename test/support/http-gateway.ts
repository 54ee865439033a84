import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadedConfig, parseConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/gateway/logger.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { type GatewayConfigParts, gatewayConfigYaml } from './gateway-config.js';
import { temporaryDirectory } from './temp-dir.js';

export interface HttpGatewayOptions extends Omit<GatewayConfigParts, 'body'> {
  /** The config after identity and store (top-level YAML): resources, approvals, quotas, masking... */
  readonly yaml: string;
  /** Values for the config's `${env:...}` references. */
  readonly env?: Readonly<Record<string, string>>;
  /** Also start the admin listener (health, metrics, reviews). */
  readonly admin?: boolean;
  /** Also start the HTTP listener (default); off for a gateway that only serves the admin API. */
  readonly http?: boolean;
  /** Prefix of the temporary directory holding the config, the store and keys. */
  readonly dirPrefix?: string;
}

export interface HttpGateway {
  readonly gateway: Gateway;
  readonly loaded: LoadedConfig;
  /** The config file, also on disk for CLI commands (`-c`); the store and keys sit beside it. */
  readonly configFile: string;
  /** `http://127.0.0.1:PORT` of the HTTP listener (empty when it was not started). */
  readonly base: string;
  /** `http://127.0.0.1:PORT` of the admin listener (empty when it was not started). */
  readonly admin: string;
  /** A dev-issuer token (when `devIssuer` is configured). */
  mint(subject: string, groups: readonly string[], ttlMs?: number): Promise<string>;
  /** Stops this gateway and starts another on the same config, store and keys: what a restart keeps. */
  restart(): Promise<HttpGateway>;
}

/**
 * The real gateway (`Gateway.start`) on loopback ports chosen by the system, its config written with
 * `gatewayConfigYaml` into a temporary directory (removed when the test process exits). Stop it with
 * `gateway.stop()`.
 */
export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  const { yaml, env, admin, http, dirPrefix, ...parts } = options;
  const configFile = join(temporaryDirectory(dirPrefix ?? 'gh-http-gateway-'), 'gatehouse.yaml');
  const text = gatewayConfigYaml({ ...parts, body: yaml });
  writeFileSync(configFile, text);
  const loaded = parseConfig(text, configFile, { ...env });
  return startOn(loaded, configFile, { admin: admin === true, http: http !== false });
}

async function startOn(
  loaded: LoadedConfig,
  configFile: string,
  listeners: { admin: boolean; http: boolean },
): Promise<HttpGateway> {
  const free = { host: '127.0.0.1', port: 0 };
  const gateway = await Gateway.start(loaded, {
    logger: createLogger('silent'),
    listen: { ...(listeners.http ? { http: free } : {}), ...(listeners.admin ? { admin: free } : {}) },
  });
  const url = (address: { port: number } | undefined) => (address ? `http://127.0.0.1:${address.port}` : '');
  let issuer: DevIssuer | undefined;
  return {
    gateway,
    loaded,
    configFile,
    base: url(gateway.addresses.http),
    admin: url(gateway.addresses.admin),
    async mint(subject, groups, ttlMs = 600_000) {
      issuer ??= await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
      return issuer.mint({ subject, groups, ttlMs });
    },
    async restart() {
      await gateway.stop();
      return startOn(loaded, configFile, listeners);
    },
  };
}
