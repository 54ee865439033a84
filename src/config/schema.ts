import { z } from 'zod';
import { inheritMasking, maskingIssues, maskingSchema } from '../masking/config.js';
import { quotasSchema } from '../quotas/config.js';
import { storeSchema } from '../store/config.js';
import { agentsSchema } from './agents-schema.js';
import { approvalsSchema } from './approvals-schema.js';
import { auditSchema } from './audit-schema.js';
import { httpResourceSchema } from './http-schema.js';
import { devIssuerSchema as devIssuer, issuerSchema as issuer } from './identity-schema.js';
import { mcpResourceSchema } from './mcp-schema.js';
import { postgresResourceSchema } from './postgres-schema.js';
import { duration, listenAddress } from './schema-parts.js';

export { ASYMMETRIC_ALGORITHMS } from './identity-schema.js';

const resource = z.discriminatedUnion('protocol', [httpResourceSchema, postgresResourceSchema, mcpResourceSchema], {
  error: 'expected protocol: http, postgres or mcp',
});

/** The configuration before masking settings are inherited: what the configuration reference is generated from. */
export const configObjectSchema = z
  .strictObject({
    listen: z
      .strictObject({
        http: listenAddress.optional().describe('HTTP data path.'),
        postgres: listenAddress.optional().describe('PostgreSQL data path.'),
        mcp: listenAddress.optional().describe('MCP data path (Streamable HTTP).'),
        admin: listenAddress.optional().describe('Admin listener: health, readiness, metrics, reviews.'),
      })
      .prefault({})
      .describe('Addresses the gateway listens on; a listener without an address is off.'),
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info')
          .describe('Log level; logs are JSON lines on stdout.'),
      })
      .prefault({})
      .describe('Logging.'),
    http: z
      .strictObject({
        /** Largest request body read whole (inference routes, to find the model). Others stream. */
        maxInspectedBodyBytes: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024)
          .describe('Largest request body read whole (inference routes, to find the model). Others stream.'),
        maxHeaderBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024)
          .describe('Largest request headers; larger get 431.'),
        /** A client that sends its headers slower than this is dropped. */
        headersTimeout: duration
          .default(10_000)
          .describe('A client that sends its headers slower than this is dropped.'),
        /** Longest time to receive a whole request (headers and body) from a client. */
        requestTimeout: duration
          .default(600_000)
          .describe('Longest time to receive a whole request (headers and body) from a client.'),
      })
      .prefault({})
      .describe('HTTP data path limits and timeouts.'),
    postgres: z
      .strictObject({
        /** PEM files for the PostgreSQL listener's TLS (SSLRequest). Relative paths resolve against the config file. */
        tls: z
          .strictObject({
            cert: z.string().min(1).describe('PEM certificate (chain) file.'),
            key: z.string().min(1).describe('PEM private key file of that certificate.'),
          })
          .optional()
          .describe(
            "PEM files for the PostgreSQL listener's TLS (SSLRequest). Relative paths resolve against the config file.",
          ),
        /**
         * Accept the token as a cleartext password on plain TCP. Only for loopback set-ups such as the quickstart:
         * anywhere else a token on the wire can be replayed until it expires.
         */
        allowPlaintextPassword: z
          .boolean()
          .default(false)
          .describe(
            'Accept the token as a cleartext password on plain TCP. Only for loopback set-ups such as the quickstart: anywhere else a token on the wire can be replayed until it expires.',
          ),
        startupTimeout: duration.default(10_000).describe('Longest a client may take to start up and authenticate.'),
        maxMessageBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024)
          .describe('Largest frontend message; larger get SQLSTATE 54000.'),
        maxStatementBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 * 1024)
          .describe('Largest SQL text classified (Query or Parse); longer statements are refused with SQLSTATE 54000.'),
        statementParseTimeout: duration
          .default(5_000)
          .describe('Longest a large statement may take to classify on its worker thread; refused with 54001 after.'),
      })
      .prefault({})
      .describe('PostgreSQL data path: TLS, authentication and limits.'),
    identity: z
      .strictObject({
        issuers: z
          .array(issuer)
          .default([])
          .describe(
            'Trusted OIDC/JWT issuers (GitHub Actions, GitLab, Kubernetes, Keycloak...). See docs/identity.md.',
          ),
        devIssuer: devIssuer
          .prefault({})
          .describe('A local development issuer (`gatehouse token mint`). Never in production.'),
      })
      .prefault({})
      .describe('Who may call: trusted token issuers and how their claims become subject and groups.'),
    store: storeSchema.describe(
      'Where audit events, reviews and quota counters are kept: `sqlite` (embedded) or `postgres`.',
    ),
    audit: auditSchema.describe(
      'Session recording, tamper evidence, retention, export and the optional forensic copy.',
    ),
    approvals: approvalsSchema.describe(
      'Just-in-time approval: how long reviews wait, who is told, and which access windows may be requested.',
    ),
    quotas: quotasSchema.describe('Token and request budgets per subject, group or claim value.'),
    resources: z
      .array(resource)
      .default([])
      .describe('The upstreams callers reach through the gateway, with their policy.'),
    agents: agentsSchema,
    masking: maskingSchema.describe('Masking defaults inherited by every resource (detectors, styles, token key).'),
  })
  .superRefine((config, ctx) => {
    for (const issue of maskingIssues(config.masking, config.resources)) ctx.addIssue({ code: 'custom', ...issue });
    const names = new Set<string>();
    config.resources.forEach((r, index) => {
      if (names.has(r.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'name'],
          message: `duplicate resource name "${r.name}"`,
        });
      }
      names.add(r.name);
      if (r.via === 'agent' && config.agents === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'via'],
          message: 'via: agent needs an `agents:` section (where agents connect and which may serve what)',
        });
      }
      if (r.protocol === 'mcp' && r.via === 'agent' && r.upstream.transport !== 'http') {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'upstream', 'transport'],
          message: 'via: agent reaches Streamable HTTP servers only (transport: http)',
        });
      }
      if (r.protocol === 'mcp' && r.via === 'agent' && r.upstream.transport === 'http' && r.upstream.credential) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'upstream', 'credential'],
          message: "via: agent: the agent injects the server's credential; the gateway's config must not hold it",
        });
      }
      if (r.protocol === 'http' && r.pathPrefix === undefined && r.host === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index],
          message: 'an http resource needs pathPrefix or host',
        });
      }
    });
    if (config.identity.issuers.length === 0 && !config.identity.devIssuer.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['identity', 'issuers'],
        message: 'no token issuer is configured: add an issuer or enable devIssuer',
      });
    }
  });

export const configSchema = configObjectSchema.transform(inheritMasking);

export type GatehouseConfig = z.output<typeof configSchema>;
export type IssuerConfig = GatehouseConfig['identity']['issuers'][number];
export type DevIssuerConfig = GatehouseConfig['identity']['devIssuer'];
export type ResourceConfig = GatehouseConfig['resources'][number];
export type HttpResourceConfig = Extract<ResourceConfig, { protocol: 'http' }>;
export type PostgresResourceConfig = Extract<ResourceConfig, { protocol: 'postgres' }>;
export type McpResourceConfig = Extract<ResourceConfig, { protocol: 'mcp' }>;
export type PolicyRuleConfig = HttpResourceConfig['policy'][number];
export type AuditConfig = GatehouseConfig['audit'];
export type AuditSinkConfig = AuditConfig['export']['sinks'][number];
export type ApprovalsConfig = GatehouseConfig['approvals'];
export type ListenAddress = NonNullable<GatehouseConfig['listen']['http']>;
