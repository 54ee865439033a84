import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import type { DevIssuerConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { LocalIssuer } from './jwt-verifier.js';

const ALGORITHM = 'EdDSA';

export interface MintOptions {
  subject: string;
  groups: readonly string[];
  ttlMs: number;
  /** Extra claims; the registered ones and the groups claim are set by the issuer and cannot be given here. */
  claims?: Record<string, unknown>;
}

type SigningKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * A local token issuer for development and quickstarts: an Ed25519 key kept in a file, tokens minted on demand and
 * trusted by the verifier without any network. Never a substitute for a real OIDC provider in production.
 */
export class DevIssuer {
  readonly #config: DevIssuerConfig;
  readonly #clock: Clock;
  readonly #key: SigningKey;
  readonly #publicJwk: JWK;
  readonly #kid: string;

  private constructor(config: DevIssuerConfig, clock: Clock, key: SigningKey, publicJwk: JWK, kid: string) {
    this.#config = config;
    this.#clock = clock;
    this.#key = key;
    this.#publicJwk = publicJwk;
    this.#kid = kid;
  }

  /** Loads the private key from `keyFile` (relative to baseDir), creating it (mode 0600) on first use. */
  static async open(config: DevIssuerConfig, baseDir: string, clock: Clock): Promise<DevIssuer> {
    const path = resolve(baseDir, config.keyFile);
    const jwk = (await loadKey(path)) ?? (await createKey(path));
    const kid = jwk.kid;
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof kid !== 'string') {
      throw new Error(`dev issuer key file ${path} does not hold an Ed25519 private JWK with a kid`);
    }
    const key = await importJWK(jwk, ALGORITHM);
    const { d: _private, ...publicJwk } = jwk;
    return new DevIssuer(config, clock, key, { ...publicJwk, alg: ALGORITHM, use: 'sig' }, kid);
  }

  async mint(options: MintOptions): Promise<string> {
    const { subject, groups, ttlMs } = options;
    if (typeof subject !== 'string' || subject.length === 0) throw new Error('dev issuer: subject must not be empty');
    if (!Number.isFinite(ttlMs) || ttlMs < 1000) throw new Error('dev issuer: ttl must be at least 1 second');
    if (ttlMs > this.#config.maxTokenLifetime) {
      throw new Error(
        `dev issuer: ttl ${ttlMs} ms exceeds the maximum token lifetime of ${this.#config.maxTokenLifetime} ms`,
      );
    }
    const reserved = new Set(['iss', 'sub', 'aud', 'iat', 'exp', 'nbf', 'jti', this.#config.groupsClaim]);
    const extra = options.claims ?? {};
    for (const name of Object.keys(extra)) {
      if (reserved.has(name)) throw new Error(`dev issuer: claim "${name}" is set by the issuer`);
    }
    // Whole seconds, rounded down, so the lifetime the verifier sees never exceeds the requested ttl.
    const iat = Math.floor(this.#clock.now() / 1000);
    return new SignJWT({ ...extra, [this.#config.groupsClaim]: [...groups] })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.#kid, typ: 'JWT' })
      .setIssuer(this.#config.issuer)
      .setAudience(this.#config.audience)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.floor(ttlMs / 1000))
      .setJti(randomUUID())
      .sign(this.#key);
  }

  /** What the verifier needs to trust this issuer's tokens: public key only. */
  localIssuer(): LocalIssuer {
    return {
      issuer: this.#config.issuer,
      audience: this.#config.audience,
      groupsClaim: this.#config.groupsClaim,
      maxTokenLifetime: this.#config.maxTokenLifetime,
      jwks: { keys: [{ ...this.#publicJwk }] },
      algorithms: [ALGORITHM],
    };
  }
}

async function loadKey(path: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as JWK;
  } catch (error) {
    throw new Error(`dev issuer key file ${path} is not valid JSON`, { cause: error });
  }
}

async function createKey(path: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALGORITHM, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // `wx`: never overwrite a key another process created meanwhile; the mode keeps the private key private.
    await writeFile(path, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const existing = await loadKey(path);
    if (existing) return existing;
    throw error;
  }
  return jwk;
}
