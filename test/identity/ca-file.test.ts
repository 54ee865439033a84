import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { generate } from 'selfsigned';
import { configSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/core/clock.js';
import { GatehouseError } from '../../src/core/errors.js';
import { JwtVerifier } from '../../src/identity/jwt-verifier.js';
import { temporaryDirectory } from '../support/temp-dir.js';

/**
 * An in-cluster-style issuer: discovery and JWKS over HTTPS with a certificate from a private CA. The verifier
 * reaches it only with that CA in `caFile`; without it the TLS handshake fails and tokens are refused.
 */
describe('issuer caFile', () => {
  const dir = temporaryDirectory('gatehouse-ca-');
  let server: Server;
  let issuer: string;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let otherCaFile: string;

  before(async () => {
    const ca = await generate([{ name: 'commonName', value: 'Test Cluster CA' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    const leaf = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const other = await generate([{ name: 'commonName', value: 'Someone Else CA' }], {
      keySize: 2048,
      algorithm: 'sha256',
    });
    writeFileSync(join(dir, 'cluster-ca.pem'), ca.cert);
    otherCaFile = join(dir, 'other-ca.pem');
    writeFileSync(otherCaFile, other.cert);

    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    server = createServer({ key: leaf.private, cert: leaf.cert }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      else res.end(JSON.stringify({ keys: [jwk] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sign = (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(issuer)
        .setAudience('gatehouse')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const verifier = (caFile: string | undefined) =>
    new JwtVerifier({
      issuers: configSchema.parse({
        identity: {
          issuers: [
            {
              issuer,
              audience: 'gatehouse',
              ...(caFile === undefined ? {} : { caFile }),
              subjectClaim: '["kubernetes.io"].serviceaccount.name',
              groups: [{ template: 'ns:{["kubernetes.io"].namespace}' }],
            },
          ],
        },
      }).identity.issuers,
      baseDir: dir,
      clock: systemClock,
    });

  test('discovery and JWKS over a private CA succeed with caFile (relative to the config directory)', async () => {
    const token = await sign({
      sub: 'system:serviceaccount:payments:api',
      'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } },
    });
    const identity = await verifier('cluster-ca.pem').verify(token);
    assert.equal(identity.subject, 'api');
    assert.deepEqual(identity.groups, ['ns:payments']);
  });

  test('without caFile, or with another CA, the keys cannot be fetched and the token is refused', async () => {
    const token = await sign({ sub: 's', 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } } });
    for (const caFile of [undefined, otherCaFile]) {
      await assert.rejects(verifier(caFile).verify(token), (error: unknown) => {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.details['reason'], 'jwks-unavailable');
        return true;
      });
    }
  });

  test('a missing or non-PEM caFile is a configuration error at construction', () => {
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    for (const caFile of ['missing.pem', 'junk.pem']) {
      assert.throws(
        () => verifier(caFile),
        (error: unknown) => error instanceof GatehouseError && error.code === 'config.invalid',
      );
    }
  });
});
