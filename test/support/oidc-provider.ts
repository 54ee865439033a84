import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * A real `oidc-provider` on 127.0.0.1 issuing client_credentials JWT access tokens (RS256) with a `groups` claim.
 * Shared by the identity tests and the HTTP end-to-end tests: keep the API stable.
 */
export interface TestOidcProvider {
  /** Issuer URL, e.g. `http://127.0.0.1:41234`; discovery lives under it. */
  readonly issuer: string;
  /** Performs a real client_credentials request and returns the access token (a JWT for the configured audience). */
  token(clientId: string): Promise<string>;
  /** How many times the JWKS endpoint has been requested so far. */
  jwksRequests(): number;
  /** The provider's public signing key. */
  publicJwk(): JWK;
  close(): Promise<void>;
}

export interface TestOidcProviderOptions {
  audience: string;
  clients: { clientId: string; clientSecret: string; groups: string[] }[];
  accessTokenTtlSeconds?: number;
}

/** The slice of oidc-provider's API used here (the package ships no type declarations). */
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;
interface ProviderModule {
  default: ProviderClass;
  errors: { InvalidTarget: new (description?: string) => Error };
}

// A specifier typed as string keeps tsc from looking for declarations the package does not have.
const PROVIDER_MODULE: string = 'oidc-provider';

export async function startOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  const { default: Provider, errors } = (await import(PROVIDER_MODULE)) as ProviderModule;
  const ttl = options.accessTokenTtlSeconds ?? 300;
  // Resource indicators must be absolute URIs; the audience need not be one, so map it onto a URN when it is not.
  const resource = URL.canParse(options.audience)
    ? options.audience
    : `urn:gatehouse:test:${encodeURIComponent(options.audience)}`;
  const groupsByClient = new Map(options.clients.map((c) => [c.clientId, c.groups]));

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: `test-${randomUUID()}`, alg: 'RS256', use: 'sig' };
  const publicJwk: JWK = {
    kty: signingJwk.kty,
    n: signingJwk.n,
    e: signingJwk.e,
    kid: signingJwk.kid,
    alg: 'RS256',
    use: 'sig',
  };

  let jwksHits = 0;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname === '/jwks') jwksHits += 1;
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomUUID()] },
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: options.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: { clientId?: string }) => ({
      groups: groupsByClient.get(token.clientId ?? '') ?? [],
    }),
  });
  handler = provider.callback();

  const secrets = new Map(options.clients.map((c) => [c.clientId, c.clientSecret]));
  return {
    issuer,
    async token(clientId) {
      const secret = secrets.get(clientId);
      if (secret === undefined) throw new Error(`unknown test client ${clientId}`);
      const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || typeof body.access_token !== 'string') {
        throw new Error(
          `token request failed: HTTP ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`,
        );
      }
      return body.access_token;
    },
    jwksRequests: () => jwksHits,
    publicJwk: () => ({ ...publicJwk }),
    close: () =>
      new Promise<void>((done, fail) => {
        server.close((error) => (error ? fail(error) : done()));
        server.closeAllConnections();
      }),
  };
}
