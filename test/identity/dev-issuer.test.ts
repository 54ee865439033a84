import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { pino } from 'pino';
import { configSchema, type DevIssuerConfig } from '../../src/config/schema.js';
import type { Clock } from '../../src/core/clock.js';
import { GatehouseError } from '../../src/core/errors.js';
import { createTokenVerifier } from '../../src/identity/create-verifier.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { JwtVerifier } from '../../src/identity/jwt-verifier.js';

class TestClock implements Clock {
  current = Date.now();
  now(): number {
    return this.current;
  }
}

function devConfig(overrides: Record<string, unknown> = {}): DevIssuerConfig {
  return configSchema.parse({ identity: { devIssuer: { enabled: true, ...overrides } } }).identity.devIssuer;
}

describe('DevIssuer', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-dev-issuer-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('creates the key file (directories too) with mode 0600 and reuses it on the next open', async () => {
    const config = devConfig({ keyFile: 'nested/keys/dev.jwk.json' });
    const path = join(dir, 'nested/keys/dev.jwk.json');
    const clock = new TestClock();

    const first = await DevIssuer.open(config, dir, clock);
    const info = await stat(path);
    assert.equal(info.mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.equal(stored['kty'], 'OKP');
    assert.equal(stored['crv'], 'Ed25519');
    assert.equal(typeof stored['d'], 'string');
    assert.equal(typeof stored['kid'], 'string');

    const contents = await readFile(path, 'utf8');
    const second = await DevIssuer.open(config, dir, clock);
    assert.equal(await readFile(path, 'utf8'), contents, 'the key file is not rewritten');
    assert.deepEqual(second.localIssuer().jwks, first.localIssuer().jwks);

    // A token minted before the reopen verifies against the reopened issuer's keys.
    const token = await first.mint({ subject: 'svc', groups: ['g'], ttlMs: 60_000 });
    const identity = await new JwtVerifier({ issuers: [], trustedLocal: [second.localIssuer()], clock }).verify(token);
    assert.equal(identity.subject, 'svc');
  });

  test('the public key set it hands the verifier holds no private material', async () => {
    const issuer = await DevIssuer.open(devConfig({ keyFile: 'public-only.json' }), dir, new TestClock());
    for (const key of issuer.localIssuer().jwks.keys) assert.equal('d' in key, false);
  });

  test('a minted token verifies through JwtVerifier with the configured issuer, audience and groups', async () => {
    const clock = new TestClock();
    const config = devConfig({
      keyFile: 'mint.json',
      issuer: 'dev-test',
      audience: 'gatehouse-test',
      groupsClaim: 'roles',
    });
    const issuer = await DevIssuer.open(config, dir, clock);
    const verifier = new JwtVerifier({ issuers: [], trustedLocal: [issuer.localIssuer()], clock });

    const token = await issuer.mint({
      subject: 'svc-etl',
      groups: ['writers', 'readers', 'writers'],
      ttlMs: 600_000,
      claims: { tenant: 'acme' },
    });
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    assert.equal(header.alg, 'EdDSA');
    assert.equal(typeof header.kid, 'string');
    assert.equal(claims.iss, 'dev-test');
    assert.equal(claims.aud, 'gatehouse-test');
    assert.equal((claims.exp as number) - (claims.iat as number), 600);

    const identity = await verifier.verify(token);
    assert.equal(identity.issuer, 'dev-test');
    assert.equal(identity.subject, 'svc-etl');
    assert.deepEqual(identity.groups, ['readers', 'writers']);
    assert.equal(identity.tokenId, claims.jti);
    assert.equal(identity.claims['tenant'], 'acme');

    // Each token gets its own jti.
    const other = await issuer.mint({ subject: 'svc-etl', groups: [], ttlMs: 600_000 });
    assert.notEqual(decodeJwt(other).jti, claims.jti);

    // And it expires with the clock like any other token.
    clock.current += 600_000 + 31_000;
    await assert.rejects(verifier.verify(token), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.details['reason'], 'expired');
      return true;
    });
  });

  test('refuses a ttl over the maximum lifetime, zero or negative, and reserved claims', async () => {
    const issuer = await DevIssuer.open(
      devConfig({ keyFile: 'limits.json', maxTokenLifetime: '10m' }),
      dir,
      new TestClock(),
    );
    await assert.rejects(
      issuer.mint({ subject: 's', groups: [], ttlMs: 600_001 }),
      /exceeds the maximum token lifetime/,
    );
    await assert.rejects(issuer.mint({ subject: 's', groups: [], ttlMs: 0 }), /at least 1 second/);
    await assert.rejects(issuer.mint({ subject: 's', groups: [], ttlMs: -5 }), /at least 1 second/);
    await assert.rejects(issuer.mint({ subject: '', groups: [], ttlMs: 1000 }), /subject/);
    await assert.rejects(
      issuer.mint({ subject: 's', groups: [], ttlMs: 1000, claims: { iss: 'x' } }),
      /set by the issuer/,
    );
    await assert.rejects(
      issuer.mint({ subject: 's', groups: [], ttlMs: 1000, claims: { groups: ['admins'] } }),
      /set by the issuer/,
    );
    // Exactly the maximum is fine.
    await issuer.mint({ subject: 's', groups: [], ttlMs: 600_000 });
  });

  test('a tampered key file is refused', async () => {
    const config = devConfig({ keyFile: 'bad.json' });
    await DevIssuer.open(config, dir, new TestClock());
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ kty: 'RSA', n: 'x', e: 'AQAB' }));
    await assert.rejects(DevIssuer.open(config, dir, new TestClock()), /Ed25519 private JWK/);
    await writeFile(join(dir, 'bad.json'), '{not json');
    await assert.rejects(DevIssuer.open(config, dir, new TestClock()), /not valid JSON/);
  });

  test('createTokenVerifier trusts the dev issuer when enabled and warns loudly', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const clock = new TestClock();
    const config = configSchema.parse({ identity: { devIssuer: { enabled: true, keyFile: 'wired.json' } } });

    const verifier = await createTokenVerifier(config, dir, clock, logger);
    const warning = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).find((l) => l.level === 40);
    assert.ok(warning, 'expected a warn-level log line');
    assert.match(warning.msg, /DEVELOPMENT TOKEN ISSUER IS ENABLED.*production/);

    const dev = await DevIssuer.open(config.identity.devIssuer, dir, clock);
    const identity = await verifier.verify(
      await dev.mint({ subject: 'quickstart', groups: ['admins'], ttlMs: 60_000 }),
    );
    assert.equal(identity.issuer, 'gatehouse-dev');
    assert.deepEqual(identity.groups, ['admins']);
  });

  test('createTokenVerifier does not trust dev tokens when the dev issuer is disabled', async () => {
    const clock = new TestClock();
    const enabled = configSchema.parse({ identity: { devIssuer: { enabled: true, keyFile: 'off.json' } } });
    const dev = await DevIssuer.open(enabled.identity.devIssuer, dir, clock);
    const token = await dev.mint({ subject: 'svc', groups: [], ttlMs: 60_000 });

    const disabled = configSchema.parse({
      identity: {
        issuers: [{ issuer: 'https://idp.example', audience: 'gatehouse', jwksUri: 'https://idp.example/jwks' }],
        devIssuer: { enabled: false, keyFile: 'off.json' },
      },
    });
    const verifier = await createTokenVerifier(disabled, dir, clock, pino({ level: 'silent' }));
    await assert.rejects(verifier.verify(token), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.details['reason'], 'unknown-issuer');
      return true;
    });
  });
});
