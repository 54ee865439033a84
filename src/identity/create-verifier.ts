import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { DevIssuer } from './dev-issuer.js';
import { JwtVerifier, type LocalIssuer } from './jwt-verifier.js';
import type { TokenVerifier } from './verifier.js';

/** Builds the gateway's verifier from config: every configured issuer, plus the dev issuer when it is enabled. */
export async function createTokenVerifier(
  config: GatehouseConfig,
  baseDir: string,
  clock: Clock,
  logger: Logger,
): Promise<TokenVerifier> {
  const trustedLocal: LocalIssuer[] = [];
  const dev = config.identity.devIssuer;
  if (dev.enabled) {
    // Loud on purpose: anyone who can read the key file can mint tokens for any group.
    logger.warn(
      { issuer: dev.issuer, keyFile: dev.keyFile },
      'DEVELOPMENT TOKEN ISSUER IS ENABLED: tokens signed by a local key file are trusted. Do not use in production.',
    );
    trustedLocal.push((await DevIssuer.open(dev, baseDir, clock)).localIssuer());
  }
  return new JwtVerifier({
    issuers: config.identity.issuers,
    trustedLocal,
    baseDir,
    clock,
    logger: logger.child({ component: 'identity' }),
  });
}
