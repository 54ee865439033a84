import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  base64url,
  type CryptoKey,
  decodeJwt,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { configSchema, type IssuerConfig } from '../../src/config/schema.js';
import type { Clock } from '../../src/core/clock.js';
import { ERROR_CODES, GatehouseError } from '../../src/core/errors.js';
import { JwtVerifier } from '../../src/identity/jwt-verifier.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

const AUDIENCE = 'gatehouse-api';
const SKEW_MS = 30_000;

/** A clock the test moves by hand; starts at real time so the provider's tokens are current. */
class TestClock implements Clock {
  current = Date.now();
  now(): number {
    return this.current;
  }
}

/** Issuer entries go through the real config schema, so defaults are the ones users get. */
function issuers(...entries: Record<string, unknown>[]): IssuerConfig[] {
  return configSchema.parse({ identity: { issuers: entries } }).identity.issuers;
}

async function rejects(verifier: JwtVerifier, token: string, reason: string): Promise<void> {
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(error instanceof GatehouseError, `expected GatehouseError, got ${String(error)}`);
    assert.equal(error.code, 'auth.invalid_token');
    assert.equal(error.details['reason'], reason);
    // The caller-facing message never says why.
    assert.equal(error.message, ERROR_CODES['auth.invalid_token']);
    return true;
  });
}

function epoch(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Re-encodes a token's payload and keeps the original signature. */
function tamper(token: string, change: (payload: JWTPayload) => void): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
  change(claims);
  return `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

function unsigned(header: Record<string, unknown>, payload: JWTPayload): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;
}

/** A second, hand-driven issuer: our own RSA key served from a tiny JWKS server, for tokens oidc-provider won't mint. */
interface CraftedIssuer {
  issuer: string;
  jwksUri: string;
  kid: string;
  privateKey: CryptoKey;
  jwksHits(): number;
  sign(claims: JWTPayload, options?: { kid?: string; alg?: string; typ?: string }): Promise<string>;
  close(): Promise<void>;
}

async function startCraftedIssuer(): Promise<CraftedIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `crafted-${randomUUID()}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  let hits = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks') return void res.writeHead(404).end();
    hits += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer: `${base}/crafted`,
    jwksUri: `${base}/jwks`,
    kid,
    privateKey,
    jwksHits: () => hits,
    sign: (claims, options) =>
      new SignJWT(claims)
        .setProtectedHeader({
          alg: options?.alg ?? 'RS256',
          kid: options?.kid ?? kid,
          ...(options?.typ === undefined ? {} : { typ: options.typ }),
        })
        .sign(privateKey),
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on: bind one, then release it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe('JwtVerifier', () => {
  let provider: TestOidcProvider;
  let crafted: CraftedIssuer;

  before(async () => {
    provider = await startOidcProvider({
      audience: AUDIENCE,
      clients: [
        { clientId: 'svc-reader', clientSecret: 'reader-secret', groups: ['readers', 'analysts', 'readers'] },
        { clientId: 'svc-nogroups', clientSecret: 'nogroups-secret', groups: [] },
      ],
      accessTokenTtlSeconds: 300,
    });
    crafted = await startCraftedIssuer();
  });

  after(async () => {
    await provider.close();
    await crafted.close();
  });

  /** The provider via OpenID discovery (no jwksUri), the crafted issuer via its jwksUri. */
  function verifier(clock: Clock, provided: Record<string, unknown> = {}, craftedOverrides = {}): JwtVerifier {
    return new JwtVerifier({
      issuers: issuers(
        { issuer: provider.issuer, audience: AUDIENCE, ...provided },
        { issuer: crafted.issuer, audience: AUDIENCE, jwksUri: crafted.jwksUri, ...craftedOverrides },
      ),
      clock,
    });
  }

  /** Claims for a crafted token that passes every check, relative to the given clock. */
  function craftedClaims(clock: Clock, overrides: JWTPayload = {}): JWTPayload {
    const now = epoch(clock.now());
    return { iss: crafted.issuer, aud: AUDIENCE, sub: 'crafted-svc', iat: now, exp: now + 300, ...overrides };
  }

  test('a real provider token verifies to an identity, with keys found through discovery', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const token = await provider.token('svc-reader');
    const claims = decodeJwt(token);
    const before = provider.jwksRequests();

    const identity = await v.verify(token);

    assert.equal(identity.issuer, provider.issuer);
    assert.equal(identity.subject, 'svc-reader');
    assert.deepEqual(identity.groups, ['analysts', 'readers']);
    assert.equal(identity.tokenId, claims.jti);
    assert.equal(identity.expiresAt, (claims.exp as number) * 1000);
    assert.equal(identity.claims['client_id'], 'svc-reader');
    assert.equal(provider.jwksRequests(), before + 1);
  });

  test('a verified token is cached: the second verify fetches nothing and returns the same identity', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const token = await provider.token('svc-reader');
    const first = await v.verify(token);
    const fetched = provider.jwksRequests();

    const second = await v.verify(token);

    assert.equal(second, first);
    assert.equal(provider.jwksRequests(), fetched);
  });

  test('a cached token is rejected as expired once the clock passes its expiry', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const token = await provider.token('svc-reader');
    const identity = await v.verify(token);

    clock.current = identity.expiresAt + SKEW_MS - 1000;
    assert.equal(await v.verify(token), identity);
    clock.current = identity.expiresAt + SKEW_MS + 1000;
    await rejects(v, token, 'expired');
    // And it stays rejected: the stale entry is gone, full verification also refuses it.
    await rejects(v, token, 'expired');
  });

  test('a token with no groups claim values yields no groups', async () => {
    const identity = await verifier(new TestClock()).verify(await provider.token('svc-nogroups'));
    assert.deepEqual(identity.groups, []);
  });

  test('groups may be a space/comma separated string; non-strings are ignored; no jti means a digest', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const asString = await crafted.sign(craftedClaims(clock, { groups: 'ops, dev ops  admins,dev' }));
    const identity = await v.verify(asString);
    assert.deepEqual(identity.groups, ['admins', 'dev', 'ops']);
    assert.match(identity.tokenId, /^sha256:[A-Za-z0-9_-]{43}$/);

    const mixed = await crafted.sign(craftedClaims(clock, { groups: ['b', 7, null, { a: 1 }, 'a', 'b'] }));
    assert.deepEqual((await v.verify(mixed)).groups, ['a', 'b']);
  });

  test('a dotted groupsClaim reads a nested claim (Keycloak realm_access.roles); an exact dotted key wins', async () => {
    const clock = new TestClock();
    const v = verifier(clock, {}, { groupsClaim: 'realm_access.roles' });
    const nested = await crafted.sign(
      craftedClaims(clock, { realm_access: { roles: ['indexers', 'readers'] }, groups: ['ignored'] }),
    );
    assert.deepEqual((await v.verify(nested)).groups, ['indexers', 'readers']);
    const exact = await crafted.sign(
      craftedClaims(clock, { 'realm_access.roles': ['exact'], realm_access: { roles: ['nested'] } }),
    );
    assert.deepEqual((await v.verify(exact)).groups, ['exact']);
    // A path through something that is not an object yields no groups rather than an error.
    const flat = await crafted.sign(craftedClaims(clock, { realm_access: 'roles' }));
    assert.deepEqual((await v.verify(flat)).groups, []);
  });

  test('with tokenType at+jwt, an ID token (typ JWT) or no typ is refused; an access token passes', async () => {
    const clock = new TestClock();
    const v = verifier(clock, {}, { tokenType: 'at+jwt' });
    assert.equal((await v.verify(await crafted.sign(craftedClaims(clock), { typ: 'at+jwt' }))).subject, 'crafted-svc');
    assert.equal(
      (await v.verify(await crafted.sign(craftedClaims(clock), { typ: 'application/AT+JWT' }))).subject,
      'crafted-svc',
    );
    await rejects(v, await crafted.sign(craftedClaims(clock, { nonce: 'n' }), { typ: 'JWT' }), 'wrong-type');
    await rejects(v, await crafted.sign(craftedClaims(clock)), 'wrong-type');
    // Without tokenType, typ is not looked at.
    assert.equal(
      (await verifier(clock).verify(await crafted.sign(craftedClaims(clock), { typ: 'JWT' }))).subject,
      'crafted-svc',
    );
  });

  test('an empty token is a missing token', async () => {
    await assert.rejects(verifier(new TestClock()).verify(''), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'auth.missing_token');
      return true;
    });
  });

  test('malformed tokens are rejected without fetching keys', async () => {
    const v = verifier(new TestClock());
    const before = provider.jwksRequests() + crafted.jwksHits();
    const real = await provider.token('svc-reader');
    for (const token of [
      'not-a-jwt',
      'a.b',
      'has spaces.in.it',
      `${real}.extra.parts`,
      `!!!.${real.split('.')[1]}.sig`,
      `${base64url.encode('{"alg":')}.${real.split('.')[1]}.sig`,
      `${real.split('.')[0]}.${base64url.encode('[1,2]')}.sig`,
      'x'.repeat(20_000),
    ]) {
      await rejects(v, token, 'malformed');
    }
    assert.equal(provider.jwksRequests() + crafted.jwksHits(), before);
  });

  test('alg none is rejected before any key is fetched', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const real = decodeJwt(await provider.token('svc-reader'));
    const before = provider.jwksRequests();
    await rejects(v, unsigned({ alg: 'none', typ: 'JWT' }, real), 'alg-not-allowed');
    await rejects(v, unsigned({ alg: 'None' }, real), 'alg-not-allowed');
    await rejects(v, unsigned({ typ: 'JWT' }, real), 'alg-not-allowed');
    assert.equal(provider.jwksRequests(), before);
  });

  test('HS256 signed with the issuer public key as the HMAC secret (key confusion) is rejected', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const claims = decodeJwt(await provider.token('svc-reader'));
    const publicJwk = provider.publicJwk();
    const pem = await exportSPKI((await importJWK(publicJwk, 'RS256', { extractable: true })) as CryptoKey);
    const before = provider.jwksRequests();
    for (const secret of [pem, JSON.stringify(publicJwk), publicJwk.n as string]) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const forged = await new SignJWT(claims)
          .setProtectedHeader({ alg, kid: publicJwk.kid as string })
          .sign(new TextEncoder().encode(secret));
        await rejects(v, forged, 'alg-not-allowed');
      }
    }
    assert.equal(provider.jwksRequests(), before);
  });

  test("an algorithm outside the issuer's allow-list is rejected", async () => {
    const v = verifier(new TestClock(), { algorithms: ['ES256', 'EdDSA'] });
    await rejects(v, await provider.token('svc-reader'), 'alg-not-allowed');
  });

  test('a real token with a tampered payload fails the signature check', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const token = await provider.token('svc-reader');
    const escalated = tamper(token, (claims) => {
      claims['groups'] = ['admins'];
    });
    await rejects(v, escalated, 'bad-signature');
    const otherSubject = tamper(token, (claims) => {
      claims.sub = 'svc-admin';
    });
    await rejects(v, otherSubject, 'bad-signature');
    // The untouched token still verifies: the rejections were about the tampering, and nothing bad was cached.
    assert.equal((await v.verify(token)).subject, 'svc-reader');
  });

  test('an expired real token is rejected', async () => {
    const clock = new TestClock();
    const token = await provider.token('svc-reader');
    clock.current = (decodeJwt(token).exp as number) * 1000 + SKEW_MS + 1000;
    await rejects(verifier(clock), token, 'expired');
  });

  test('expiry within the clock skew is tolerated, beyond it is not', async () => {
    const clock = new TestClock();
    const now = epoch(clock.now());
    const v = verifier(clock);
    await v.verify(await crafted.sign(craftedClaims(clock, { iat: now - 100, exp: now - 10 })));
    await rejects(v, await crafted.sign(craftedClaims(clock, { iat: now - 100, exp: now - 40 })), 'expired');
  });

  test('a token not yet valid (nbf in the future) is rejected', async () => {
    const clock = new TestClock();
    const now = epoch(clock.now());
    await rejects(
      verifier(clock),
      await crafted.sign(craftedClaims(clock, { nbf: now + 600, exp: now + 900 })),
      'not-yet-valid',
    );
  });

  test('a token issued in the future beyond the skew is rejected', async () => {
    const clock = new TestClock();
    const now = epoch(clock.now());
    await rejects(
      verifier(clock),
      await crafted.sign(craftedClaims(clock, { iat: now + 600, exp: now + 900 })),
      'not-yet-valid',
    );
  });

  test('a token from an unknown issuer is rejected, even when signed with a trusted key', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    await rejects(v, await crafted.sign(craftedClaims(clock, { iss: 'https://evil.example' })), 'unknown-issuer');
    // Issuer match is exact: a trailing slash is a different issuer.
    await rejects(v, await crafted.sign(craftedClaims(clock, { iss: `${crafted.issuer}/` })), 'unknown-issuer');
    await rejects(v, await crafted.sign(craftedClaims(clock, { iss: undefined })), 'missing-claim');
  });

  test('a real token for another audience is rejected', async () => {
    const v = verifier(new TestClock(), { audience: 'some-other-api' });
    await rejects(v, await provider.token('svc-reader'), 'wrong-audience');
  });

  test('a real token whose lifetime exceeds the maximum is rejected', async () => {
    // The provider issues 300 s tokens; this issuer accepts at most 60 s.
    const v = verifier(new TestClock(), { maxTokenLifetime: '60s' });
    await rejects(v, await provider.token('svc-reader'), 'lifetime-too-long');
  });

  test('lifetime counts from nbf when it is later than iat', async () => {
    const clock = new TestClock();
    const now = epoch(clock.now());
    const v = verifier(clock, {}, { maxTokenLifetime: '10m' });
    // Issued an hour ago (older than the maximum), but only valid for the last 5 minutes: acceptable.
    await v.verify(await crafted.sign(craftedClaims(clock, { iat: now - 3600, nbf: now - 60, exp: now + 240 })));
    await rejects(v, await crafted.sign(craftedClaims(clock, { iat: now, exp: now + 601 })), 'lifetime-too-long');
  });

  test('tokens without sub, exp or iat are rejected', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    for (const claim of ['sub', 'exp', 'iat'] as const) {
      await rejects(v, await crafted.sign(craftedClaims(clock, { [claim]: undefined })), 'missing-claim');
    }
  });

  test('a token signed by an unknown key (kid not in the JWKS) is rejected; JWKS refetches stay bounded', async () => {
    const clock = new TestClock();
    const v = verifier(clock);
    const claims = { ...decodeJwt(await provider.token('svc-reader')) };
    const forge = (kid: string) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(crafted.privateKey);

    const start = provider.jwksRequests();
    await rejects(v, await forge(`rotated-${randomUUID()}`), 'unknown-key');
    const afterOne = provider.jwksRequests();
    assert.ok(afterOne - start >= 1 && afterOne - start <= 2, `first attempt fetched ${afterOne - start} times`);

    // Many more forged tokens, each naming a fresh kid, sequentially and concurrently.
    for (let i = 0; i < 25; i += 1) await rejects(v, await forge(`rotated-${randomUUID()}`), 'unknown-key');
    const forged = await Promise.all(Array.from({ length: 50 }, () => forge(`rotated-${randomUUID()}`)));
    await Promise.all(forged.map((token) => rejects(v, token, 'unknown-key')));
    assert.equal(provider.jwksRequests(), afterOne, 'JWKS fetches must not grow with the number of forged tokens');

    // A forged token reusing the provider's real kid fails on the signature instead.
    await rejects(v, await forge(provider.publicJwk().kid as string), 'bad-signature');
  });

  test('an unreachable JWKS or discovery endpoint is reported as jwks-unavailable', async () => {
    const clock = new TestClock();
    const port = await deadPort();
    const deadIssuer = `http://127.0.0.1:${port}`;
    const v = new JwtVerifier({
      issuers: issuers(
        { issuer: deadIssuer, audience: AUDIENCE },
        { issuer: crafted.issuer, audience: AUDIENCE, jwksUri: `http://127.0.0.1:${port}/jwks` },
      ),
      clock,
    });
    const token = await crafted.sign(craftedClaims(clock));
    await rejects(v, token, 'jwks-unavailable');
    await rejects(v, await crafted.sign(craftedClaims(clock, { iss: deadIssuer })), 'jwks-unavailable');
  });

  test('the same issuer configured twice is a configuration error', () => {
    assert.throws(
      () =>
        new JwtVerifier({
          issuers: issuers(
            { issuer: 'https://a.example', audience: 'x' },
            { issuer: 'https://a.example', audience: 'y' },
          ),
          clock: new TestClock(),
        }),
      (error: unknown) => error instanceof GatehouseError && error.code === 'config.invalid',
    );
  });

  test('the cache is bounded: the oldest entry is evicted and verified again in full', async () => {
    const clock = new TestClock();
    const v = new JwtVerifier({
      issuers: issuers({ issuer: crafted.issuer, audience: AUDIENCE, jwksUri: crafted.jwksUri }),
      clock,
      cacheSize: 2,
    });
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => crafted.sign(craftedClaims(clock, { sub }))));
    const first = await v.verify(tokens[0]!);
    await v.verify(tokens[1]!);
    assert.equal(await v.verify(tokens[0]!), first);
    await v.verify(tokens[2]!); // evicts tokens[0], the oldest insertion
    const again = await v.verify(tokens[0]!);
    assert.notEqual(again, first);
    assert.deepEqual(again, first);
  });
});
