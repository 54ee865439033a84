import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/**
 * A trusted issuer whose signing key the test holds (as a CI platform's IdP would), serving its JWKS over HTTP, so
 * tests can mint tokens with any claims: expired ones, long-lived ones, wrong audiences. Attack tokens are built on
 * top of these.
 */
type SigningKey = Parameters<SignJWT['sign']>[0];

export interface LocalIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly publicJwk: JWK;
  sign(claims: JWTPayload, options?: { kid?: string; key?: SigningKey; typ?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startLocalIssuer(issuer = 'https://ci.issuer.test'): Promise<LocalIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'local-1', alg: 'ES256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    issuer,
    jwksUri: `http://127.0.0.1:${port}/jwks`,
    publicJwk,
    sign: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'local-1', typ: options.typ ?? 'JWT' })
        .sign(options.key ?? privateKey),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
