import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { Logger } from 'pino';
import type { IssuerConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { GatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { ClaimMapping } from './claim-mapping.js';
import type { TokenVerifier } from './verifier.js';

/** An issuer whose keys are held in memory (the development issuer), so no JWKS is fetched. */
export interface LocalIssuer {
  issuer: string;
  audience: string;
  groupsClaim: string;
  /** Milliseconds. */
  maxTokenLifetime: number;
  jwks: JSONWebKeySet;
  algorithms: string[];
}

export interface JwtVerifierOptions {
  issuers: readonly IssuerConfig[];
  trustedLocal?: readonly LocalIssuer[];
  clock: Clock;
  logger?: Logger;
  /** Directory an issuer's relative `caFile` resolves against (the config file's); the working directory if absent. */
  baseDir?: string;
  /** Verified tokens kept until they expire; the oldest are evicted past this many. */
  cacheSize?: number;
}

/** Why a token was refused: goes to `details.reason` for logs and audit, never to the caller. */
export type InvalidTokenReason =
  | 'malformed'
  | 'alg-not-allowed'
  | 'unknown-issuer'
  | 'bad-signature'
  | 'unknown-key'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-audience'
  | 'wrong-issuer'
  | 'lifetime-too-long'
  | 'missing-claim'
  | 'invalid-claim'
  /** The `typ` header is not the issuer's configured `tokenType` (an ID token offered as an access token). */
  | 'wrong-type'
  | 'jwks-unavailable';

/** A bearer token larger than this is not a token we issued keys for; refuse before decoding it. */
const MAX_TOKEN_BYTES = 16 * 1024;
const DEFAULT_CACHE_SIZE = 10_000;
const LOCAL_CLOCK_SKEW_MS = 30_000;
const JWKS_TIMEOUT_MS = 5_000;
/** Unknown `kid`s refetch the JWKS at most this often, so forged tokens cannot hammer the issuer. */
const JWKS_COOLDOWN_MS = 30_000;
const DISCOVERY_TIMEOUT_MS = 5_000;
/** After a failed discovery fetch, fail fast for this long instead of fetching on every request. */
const DISCOVERY_RETRY_MS = 5_000;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** jose error codes mapped to our reasons; claim failures are refined by claim name below. */
const JOSE_REASONS: Readonly<Record<string, InvalidTokenReason>> = Object.assign(Object.create(null), {
  ERR_JWT_EXPIRED: 'expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad-signature',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown-key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'bad-signature',
  ERR_JOSE_ALG_NOT_ALLOWED: 'alg-not-allowed',
  ERR_JOSE_NOT_SUPPORTED: 'alg-not-allowed',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
  ERR_JWK_INVALID: 'unknown-key',
  ERR_JWKS_INVALID: 'jwks-unavailable',
  ERR_JWKS_TIMEOUT: 'jwks-unavailable',
  // jose raises the generic error for a non-200 or non-JSON JWKS response.
  ERR_JOSE_GENERIC: 'jwks-unavailable',
});

const CLAIM_REASONS: Readonly<Record<string, InvalidTokenReason>> = Object.assign(Object.create(null), {
  nbf: 'not-yet-valid',
  iat: 'not-yet-valid',
  aud: 'wrong-audience',
  iss: 'wrong-issuer',
  typ: 'wrong-type',
});

/** What verification needs to know about one trusted issuer, whichever way it was configured. */
interface TrustedIssuer {
  readonly issuer: string;
  readonly audience: string | string[];
  readonly claims: ClaimMapping;
  /** Required `typ` header, when the issuer's config names one. */
  readonly tokenType?: string | undefined;
  readonly algorithms: readonly string[];
  readonly clockSkew: number;
  readonly maxTokenLifetime: number;
  readonly keys: JWTVerifyGetKey;
}

interface CacheEntry {
  readonly identity: Identity;
  /** Epoch ms after which the entry is stale: `exp` plus the issuer's clock skew, as jose would allow. */
  readonly validUntil: number;
}

function invalid(reason: InvalidTokenReason, cause?: unknown): GatehouseError {
  return new GatehouseError('auth.invalid_token', undefined, { cause, details: { reason } });
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Verifies OIDC/JWT bearer tokens from configured issuers (keys via JWKS or discovery) and from in-memory local
 * issuers. Cheap checks run before any crypto or network; verified tokens are cached until they expire because the
 * HTTP path verifies on every request.
 */
export class JwtVerifier implements TokenVerifier {
  readonly #issuers: Record<string, TrustedIssuer> = Object.create(null);
  readonly #cache = new Map<string, CacheEntry>();
  readonly #cacheSize: number;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;

  constructor(options: JwtVerifierOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    for (const config of options.issuers) {
      this.#add({
        issuer: config.issuer,
        audience: config.audience,
        claims: new ClaimMapping(config),
        tokenType: config.tokenType,
        algorithms: config.algorithms,
        clockSkew: config.clockSkew,
        maxTokenLifetime: config.maxTokenLifetime,
        keys: this.#remoteKeys(config, options.baseDir ?? process.cwd()),
      });
    }
    for (const local of options.trustedLocal ?? []) {
      this.#add({
        issuer: local.issuer,
        audience: local.audience,
        claims: new ClaimMapping({ groupsClaim: local.groupsClaim }),
        algorithms: local.algorithms,
        clockSkew: LOCAL_CLOCK_SKEW_MS,
        maxTokenLifetime: local.maxTokenLifetime,
        keys: createLocalJWKSet(local.jwks),
      });
    }
  }

  async verify(token: string): Promise<Identity> {
    if (typeof token !== 'string' || token.length === 0) throw new GatehouseError('auth.missing_token');

    // Keyed by the token itself: a cache hit then costs one map lookup, no hashing, on every request.
    const cached = this.#cache.get(token);
    if (cached) {
      if (this.#clock.now() < cached.validUntil) return cached.identity;
      this.#cache.delete(token);
      throw invalid('expired');
    }

    const trusted = this.#precheck(token);
    const payload = await this.#verifySignatureAndClaims(token, trusted);
    const identity = this.#identity(digest(token), payload, trusted);
    this.#remember(token, { identity, validUntil: identity.expiresAt + trusted.clockSkew });
    return identity;
  }

  /** Everything that can be refused from the unverified token alone: shape, algorithm, issuer. */
  #precheck(token: string): TrustedIssuer {
    if (token.length > MAX_TOKEN_BYTES || !COMPACT_JWS.test(token)) throw invalid('malformed');
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch (error) {
      throw invalid('malformed', error);
    }
    if (typeof alg !== 'string' || alg === 'none' || alg.toUpperCase().startsWith('HS')) {
      throw invalid('alg-not-allowed');
    }
    if (typeof iss !== 'string') throw invalid('missing-claim');
    const trusted = Object.hasOwn(this.#issuers, iss) ? this.#issuers[iss] : undefined;
    if (!trusted) throw invalid('unknown-issuer');
    if (!trusted.algorithms.includes(alg)) throw invalid('alg-not-allowed');
    return trusted;
  }

  async #verifySignatureAndClaims(token: string, trusted: TrustedIssuer): Promise<JWTPayload> {
    const now = this.#clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, trusted.keys, {
        issuer: trusted.issuer,
        audience: trusted.audience,
        algorithms: [...trusted.algorithms],
        clockTolerance: Math.floor(trusted.clockSkew / 1000),
        currentDate: new Date(now),
        requiredClaims: ['exp', 'iat'],
        ...(trusted.tokenType === undefined ? {} : { typ: trusted.tokenType }),
      }));
    } catch (error) {
      if (error instanceof GatehouseError) throw error;
      const reason = reasonFor(error);
      if (reason === 'jwks-unavailable') {
        this.#logger?.warn({ issuer: trusted.issuer, err: error }, 'token issuer keys could not be fetched');
      }
      throw invalid(reason, error);
    }

    // jose checked that these are numbers; the remaining checks are ours.
    const exp = payload.exp as number;
    const iat = payload.iat as number;
    if (trusted.claims.subject(payload) === undefined) throw invalid('missing-claim');
    if (iat * 1000 > now + trusted.clockSkew) throw invalid('not-yet-valid');
    const start = typeof payload.nbf === 'number' && payload.nbf > iat ? payload.nbf : iat;
    if ((exp - start) * 1000 > trusted.maxTokenLifetime) throw invalid('lifetime-too-long');
    return payload;
  }

  #identity(key: string, payload: JWTPayload, trusted: TrustedIssuer): Identity {
    const jti = typeof payload.jti === 'string' && payload.jti.length > 0 ? payload.jti : undefined;
    return Object.freeze({
      issuer: trusted.issuer,
      subject: trusted.claims.subject(payload) as string,
      groups: Object.freeze(trusted.claims.groups(payload)),
      tokenId: jti ?? `sha256:${key}`,
      expiresAt: (payload.exp as number) * 1000,
      claims: Object.freeze({ ...payload }),
    });
  }

  #remember(key: string, entry: CacheEntry): void {
    if (this.#cache.size >= this.#cacheSize) {
      // Map iterates in insertion order, so the first key is the oldest entry.
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, entry);
  }

  #add(trusted: TrustedIssuer): void {
    if (Object.hasOwn(this.#issuers, trusted.issuer)) {
      throw new GatehouseError('config.invalid', `token issuer "${trusted.issuer}" is configured twice`);
    }
    this.#issuers[trusted.issuer] = trusted;
  }

  /** Keys from `jwksUri`, or from the URI in the issuer's discovery document (fetched once, on first use). */
  #remoteKeys(config: IssuerConfig, baseDir: string): JWTVerifyGetKey {
    const fetcher = config.caFile === undefined ? fetch : fetchTrusting(readCaFile(resolve(baseDir, config.caFile)));
    const remote = (uri: string) =>
      createRemoteJWKSet(new URL(uri), {
        cooldownDuration: JWKS_COOLDOWN_MS,
        timeoutDuration: JWKS_TIMEOUT_MS,
        [customFetch]: fetcher,
      });
    if (config.jwksUri !== undefined) return remote(config.jwksUri);

    let resolved: Promise<JWTVerifyGetKey> | undefined;
    // Wall-clock time on purpose: this is network backoff, not token validity (jose's cooldown works the same way).
    let failedAt = Number.NEGATIVE_INFINITY;
    return async (header, token) => {
      if (!resolved) {
        if (Date.now() - failedAt < DISCOVERY_RETRY_MS) throw invalid('jwks-unavailable');
        resolved = discoverJwksUri(config.issuer, fetcher).then(remote);
        resolved.catch((error: unknown) => {
          resolved = undefined;
          failedAt = Date.now();
          this.#logger?.warn({ issuer: config.issuer, err: error }, 'OpenID discovery failed for token issuer');
        });
      }
      let keys: JWTVerifyGetKey;
      try {
        keys = await resolved;
      } catch (error) {
        throw invalid('jwks-unavailable', error);
      }
      return keys(header, token);
    };
  }
}

/** Fetches `jwks_uri` from the issuer's OpenID discovery document, which must name the same issuer. */
async function discoverJwksUri(issuer: string, fetcher: typeof fetch): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetcher(url, {
    headers: { accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`discovery document answered HTTP ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== issuer) throw new Error('discovery document names a different issuer');
  if (typeof document.jwks_uri !== 'string' || !/^https?:\/\//.test(document.jwks_uri)) {
    throw new Error('discovery document has no usable jwks_uri');
  }
  return document.jwks_uri;
}

function reasonFor(error: unknown): InvalidTokenReason {
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return 'missing-claim';
    return CLAIM_REASONS[error.claim] ?? 'invalid-claim';
  }
  if (error instanceof errors.JOSEError) return JOSE_REASONS[error.code] ?? 'malformed';
  // Anything else came from fetching keys (network failure, bad JSON).
  return 'jwks-unavailable';
}

function readCaFile(path: string): string {
  try {
    const pem = readFileSync(path, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (error) {
    throw new GatehouseError('config.invalid', `issuer caFile ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * fetch through an undici Agent that trusts these CAs (instead of the system's) for one issuer. undici is imported on
 * first use, so commands that never fetch keys do not load it.
 */
function fetchTrusting(ca: string): typeof fetch {
  let agent: Promise<{ fetch: typeof import('undici').fetch; dispatcher: import('undici').Agent }> | undefined;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    agent ??= import('undici').then((undici) => ({
      fetch: undici.fetch,
      dispatcher: new undici.Agent({ connect: { ca } }),
    }));
    const { fetch: undiciFetch, dispatcher } = await agent;
    const url = input instanceof Request ? input.url : input;
    return undiciFetch(url, { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1]);
  }) as unknown as typeof fetch;
}
