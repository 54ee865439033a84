import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AuditRecorder } from '../audit/recorder.js';
import type { LoadedConfig } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { TokenVerifier } from '../identity/verifier.js';
import type { TunnelServerOptions } from '../tunnel/tunnel-server.js';

/** The tunnel server's options from the gateway config: agents are verified by the callers' token verifier. */
export function startAgentTunnel(
  loaded: LoadedConfig,
  verifier: TokenVerifier,
  recorder: AuditRecorder,
  clock: Clock,
  logger: Logger,
): TunnelServerOptions {
  const { config, baseDir } = loaded;
  const agents = config.agents;
  if (agents === undefined) throw new Error('agents is not configured');
  return {
    config: agents,
    resources: config.resources,
    tls: { cert: readFileSync(resolve(baseDir, agents.tls.cert)), key: readFileSync(resolve(baseDir, agents.tls.key)) },
    verifier,
    recorder,
    clock,
    logger: logger.child({ component: 'agents' }),
  };
}
