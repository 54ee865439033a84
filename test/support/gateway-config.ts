// One way to write a gateway config, for the tests (in-process gateways) and bench/ (gateway processes): the parts
// every config repeats (log level, who may call, where audit goes) are named here; the rest is the caller's YAML.

/** A trusted token issuer (`identity.issuers[]`), as the local issuer and the OIDC provider of the tests need it. */
export interface IssuerYaml {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri?: string;
  readonly algorithms: readonly string[];
  readonly maxTokenLifetime?: string;
  readonly clockSkew?: string;
}

export interface GatewayConfigParts {
  /** `log.level`; the config's default when absent. */
  readonly logLevel?: string;
  /** Enables the dev issuer with this key file (relative to the config file): tokens minted by `DevIssuer`. */
  readonly devIssuer?: { readonly keyFile: string; readonly maxTokenLifetime?: string };
  readonly issuers?: readonly IssuerYaml[];
  /**
   * The SQLite store: its file, relative to the config file (default `audit.db`), and whether it spools; or a shared
   * PostgreSQL store (`postgresUrl`) with this gateway instance's id.
   */
  readonly store?:
    | { readonly path?: string; readonly spool?: boolean }
    | { readonly postgresUrl: string; readonly instanceId?: string; readonly writerThread?: boolean };
  /** The rest of the config, top-level YAML: listen, resources, approvals, quotas... */
  readonly body: string;
}

/** Values go through JSON.stringify: YAML reads JSON, so a URL or path needs no quoting rules of its own. */
const yamlValue = (value: unknown): string => JSON.stringify(value);

function flowMapping(fields: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
  return `{ ${entries.map(([key, value]) => `${key}: ${yamlValue(value)}`).join(', ')} }`;
}

/** The whole config file's text. */
export function gatewayConfigYaml(parts: GatewayConfigParts): string {
  const lines: string[] = [];
  if (parts.logLevel !== undefined) lines.push(`log: { level: ${parts.logLevel} }`);
  const identity: string[] = [];
  if (parts.devIssuer !== undefined)
    identity.push(`  devIssuer: ${flowMapping({ enabled: true, ...parts.devIssuer })}`);
  if (parts.issuers !== undefined && parts.issuers.length > 0) {
    identity.push('  issuers:', ...parts.issuers.map((issuer) => `    - ${flowMapping({ ...issuer })}`));
  }
  lines.push(identity.length === 0 ? 'identity: {}' : `identity:\n${identity.join('\n')}`);
  const store = parts.store ?? {};
  lines.push(
    'postgresUrl' in store
      ? `store: { postgres: ${flowMapping({ url: store.postgresUrl, instanceId: store.instanceId, writerThread: store.writerThread })} }`
      : `store: { sqlite: ${flowMapping({ path: store.path ?? 'audit.db', spool: store.spool })} }`,
  );
  return `${lines.join('\n')}\n${parts.body}`;
}

/**
 * The `target:` of a PostgreSQL resource (indented for an item of `resources:`), its password read from the
 * environment variable `passwordEnv` when the config is loaded.
 */
export function postgresTargetYaml(
  backend: { readonly host: string; readonly port: number; readonly database: string; readonly user: string },
  passwordEnv: string,
): string {
  return `    target:
      host: ${backend.host}
      port: ${backend.port}
      database: ${backend.database}
      user: ${backend.user}
      password: \${env:${passwordEnv}}
`;
}

/** The policy of the PostgreSQL benchmarks' gateways: group `bench` reads, nothing else. */
export const READ_ONLY_BENCH_POLICY = `      - groups: [bench]
        allow: [read]
        deny: [write, ddl, admin]
`;

/**
 * A gateway body (see `gatewayConfigYaml`) with a PostgreSQL listener on `port` (plaintext passwords: loopback only)
 * and one resource `bench` in front of `backend`, with the given policy rules (indented as items of `policy:`).
 */
export function postgresBenchGatewayYaml(
  port: number,
  backend: Parameters<typeof postgresTargetYaml>[0],
  policy: string,
): string {
  return `listen:
  postgres: 127.0.0.1:${port}
postgres:
  allowPlaintextPassword: true # loopback only
resources:
  - name: bench
    protocol: postgres
${postgresTargetYaml(backend, 'BENCH_PG_PASSWORD')}    policy:
${policy}`;
}
