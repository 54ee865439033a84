import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatPath } from '../config/load.js';
import { duration, httpUrl, listenAddress, tunnelStreamWindow } from '../config/schema-parts.js';
import { resolveSecretReferences } from '../config/secrets.js';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected letters, digits, ., _ or - (at most 64)');
const roleName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a plain lower-case role name');

const ephemeralRoles = z.strictObject({
  /** Role granted to sessions that may write. */
  readWrite: roleName.describe('Role granted to each session role when the caller may write.'),
  /** Role granted to sessions the gateway opens read-only. */
  readOnly: roleName.describe('Role granted to each session role when the gateway opens the session read-only.'),
  prefix: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,30}$/, 'expected a lower-case prefix')
    .default('gatehouse_eph_')
    .describe('Name prefix of session roles; leftovers with it are dropped when the agent starts.'),
  validFor: duration.default(3_600_000).describe('VALID UNTIL of each session role, from its creation.'),
});

const rotation = z.strictObject({
  every: duration.describe('How often the agent changes its own backend password.'),
});

const postgresResource = z.strictObject({
  name,
  protocol: z.literal('postgres'),
  target: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: roleName,
    password: z.string().optional().describe('Backend password (a secret reference).'),
    /** Read at every connection, so a rotated password is used at once; rotation writes it back here. */
    passwordFile: z.string().min(1).optional(),
    tls: z.boolean().default(false),
  }),
  ephemeralRoles: ephemeralRoles.optional(),
  rotation: rotation.optional(),
});

const httpFields = {
  name,
  target: httpUrl,
  credential: z
    .strictObject({ header: z.string().min(1).default('authorization'), value: z.string().min(1) })
    .optional(),
  timeouts: z
    .strictObject({
      connect: duration.default(5_000),
      headers: duration.default(60_000),
      idle: duration.default(300_000),
    })
    .prefault({}),
};

const httpResource = z.strictObject({ protocol: z.literal('http'), ...httpFields });

/** A Streamable HTTP MCP server: carried like HTTP; the gateway's `mcp` resource of this name decides every call. */
const mcpResource = z.strictObject({ protocol: z.literal('mcp'), ...httpFields });

const agentConfigSchema = z
  .strictObject({
    name: name.describe('Agent name in the gateway registry and audit records.'),
    group: name.optional().describe('Agent group; a resource with `agentGroup` only uses agents of that group.'),
    gateway: z.strictObject({
      address: listenAddress.describe('The gateway agent listener, host:port.'),
      serverName: z.string().min(1).optional().describe("Name checked in the gateway's certificate."),
      ca: z.string().min(1).optional().describe("PEM CA file the gateway's certificate must chain to."),
      pin: z
        .string()
        .regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'expected a SHA-256 certificate fingerprint in hex')
        .optional()
        .describe("SHA-256 fingerprint of the gateway's certificate."),
    }),
    token: z.strictObject({
      file: z
        .string()
        .min(1)
        .describe('File holding the agent token; re-read at every renewal (a projected service-account token).'),
    }),
    heartbeat: duration.default(2_000).describe('PING interval; a gateway silent for twice this is dropped.'),
    streamWindow: tunnelStreamWindow.describe(
      'HTTP/2 flow-control window of each tunnel stream, bytes, for data the gateway sends (COPY FROM STDIN, ' +
        'request bodies): one session moves at most this much per round trip. The connection window is 16 times this.',
    ),
    reconnect: z
      .strictObject({ min: duration.default(200), max: duration.default(10_000) })
      .prefault({})
      .describe('Backoff between reconnects (doubled, with full jitter).'),
    resources: z.array(z.discriminatedUnion('protocol', [postgresResource, httpResource, mcpResource])).min(1),
  })
  .superRefine((config, ctx) => {
    if (config.gateway.ca === undefined && config.gateway.pin === undefined)
      ctx.addIssue({ code: 'custom', path: ['gateway'], message: 'give ca or pin to verify the gateway' });
    config.resources.forEach((r, index) => {
      if (r.protocol === 'postgres' && r.rotation !== undefined && r.target.passwordFile === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'rotation'],
          message: 'rotation writes the new password to target.passwordFile: set it',
        });
    });
  });

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentPostgresResource = Extract<AgentConfig['resources'][number], { protocol: 'postgres' }>;
/** Resources the agent reaches over HTTP: HTTP APIs and Streamable HTTP MCP servers. */
export type AgentHttpResource = Extract<AgentConfig['resources'][number], { protocol: 'http' | 'mcp' }>;

export interface LoadedAgentConfig {
  readonly config: AgentConfig;
  readonly baseDir: string;
}

/** Loads agent.yaml: YAML, secret references (`${env:..}`, `${file:..}`), then the schema. */
export function loadAgentConfig(
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedAgentConfig {
  const absolute = resolve(file);
  let document: unknown;
  try {
    document = parse(readFileSync(absolute, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file (${(error as Error).message})` }]);
  }
  return parseAgentConfig(document, dirname(absolute), file, env);
}

export function parseAgentConfig(
  document: unknown,
  baseDir: string,
  file = 'agent.yaml',
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedAgentConfig {
  const resolved = resolveSecretReferences(document ?? {}, { env, baseDir });
  if (resolved.issues.length > 0)
    throw new ConfigError(
      file,
      resolved.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  const parsed = agentConfigSchema.safeParse(resolved.value);
  if (!parsed.success)
    throw new ConfigError(
      file,
      parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
    );
  return { config: parsed.data, baseDir };
}
