import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { OPERATION_KINDS, RISK_TAGS } from '../core/operation.js';
import { inheritMasking, maskingIssues, maskingSchema, resourceMaskingSchema } from '../masking/config.js';
import { PROFILE_NAMES, tenantFilterSchema } from '../protocols/http/providers/profile-config.js';
import { quotasSchema } from '../quotas/config.js';

/** A duration written as `30s`, `5m`, `1h` or a number of seconds; parsed to milliseconds. */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30s, 5m, 1h or a number of seconds' });
    return z.NEVER;
  }
  return ms;
});

/** `host:port` or a bare port; host defaults to loopback so nothing listens publicly by accident. */
const listenAddress = z.union([z.string(), z.number().int()]).transform((value, ctx) => {
  const text = String(value);
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port or a port number, e.g. 127.0.0.1:8080' });
    return z.NEVER;
  }
  return { host: (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** Asymmetric algorithms only: HMAC (`HS*`) and `none` can never be configured. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

const issuer = z.strictObject({
  issuer: z.string().min(1),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** When absent, the JWKS URI comes from the issuer's OpenID discovery document. */
  jwksUri: httpUrl.optional(),
  /** The claim holding the caller's groups; a dotted path reaches a nested one (Keycloak's `realm_access.roles`). */
  groupsClaim: z.string().min(1).default('groups'),
  /**
   * The JWT `typ` header the issuer's access tokens carry, required when set: `at+jwt` (RFC 9068) keeps an ID token
   * of the same issuer and audience from passing as an access token. Matched without case and `application/` prefix.
   */
  tokenType: z.string().min(1).optional(),
  algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA']),
  clockSkew: duration.default(30_000),
  maxTokenLifetime: duration.default(3_600_000),
});

const devIssuer = z.strictObject({
  enabled: z.boolean().default(false),
  issuer: z.string().min(1).default('gatehouse-dev'),
  audience: z.string().min(1).default('gatehouse'),
  /** Private signing key (JWK); created on first use. Keep it out of version control. */
  keyFile: z.string().min(1).default('.gatehouse/dev-issuer.jwk.json'),
  groupsClaim: z.string().min(1).default('groups'),
  maxTokenLifetime: duration.default(3_600_000),
});

const selector = z.union([z.enum(OPERATION_KINDS), z.enum(Object.keys(RISK_TAGS) as [keyof typeof RISK_TAGS])], {
  error: `expected an operation kind (${OPERATION_KINDS.join(', ')}) or a risk tag (${Object.keys(RISK_TAGS).join(', ')})`,
});

const policyRule = z
  .strictObject({
    groups: z.array(z.string().min(1)).min(1),
    allow: z.array(selector).default([]),
    review: z.array(selector).default([]),
    deny: z.array(selector).default([]),
    /** Model name patterns (`*` wildcard) this rule admits for inference calls; absent means any model. */
    models: z.array(z.string().min(1)).optional(),
    /** Collection name patterns (`*` wildcard) this rule admits for vector-store calls; absent means any collection. */
    collections: z.array(z.string().min(1)).optional(),
    /** Who may approve what this rule sends to review. */
    approvers: z.array(z.string().min(1)).default([]),
    /** Distinct approvers needed before a review this rule asks for is approved. */
    approvals: z.number().int().min(1).max(10).default(1),
  })
  .refine((rule) => rule.allow.length + rule.review.length + rule.deny.length > 0, {
    message: 'a rule needs at least one of allow, review or deny',
  });

const credential = z.strictObject({
  /** Header to set on every upstream request; the caller's own `authorization` is always removed. */
  header: z.string().min(1).default('authorization'),
  value: z.string().min(1),
});

const httpOperationOverride = z.strictObject({
  /** HTTP method, or `*` for any. */
  method: z.string().min(1).default('*'),
  /** Path pattern relative to the resource: `*` matches one segment, `**` the rest. */
  path: z.string().startsWith('/'),
  kind: z.enum(OPERATION_KINDS),
  /** Read the JSON body's `model` field (inference routes). */
  inference: z.boolean().default(false),
});

const httpResource = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _'),
  protocol: z.literal('http'),
  target: httpUrl,
  /** Requests whose path starts with this prefix go to this resource; the prefix is removed upstream. */
  pathPrefix: z
    .string()
    .regex(/^\/[^?#]*[^/?#]$/, 'expected a path prefix such as /llm (no trailing slash)')
    .optional(),
  /** Optionally route by Host header instead of (or as well as) the path prefix. */
  host: z.string().min(1).optional(),
  credential: credential.optional(),
  timeouts: z
    .strictObject({
      connect: duration.default(5_000),
      /** Until the upstream's response headers arrive. */
      headers: duration.default(60_000),
      /** Longest silence while streaming a body, in either direction. */
      idle: duration.default(300_000),
    })
    .prefault({}),
  operations: z.array(httpOperationOverride).default([]),
  /** What the upstream speaks (inference or vector-store API): classification by operation, model and collection. */
  profile: z.enum(PROFILE_NAMES).optional(),
  /** Vector stores: constrain search, scroll and delete requests to the caller's tenant (claim value). */
  tenantFilter: tenantFilterSchema.optional(),
  policy: z.array(policyRule).default([]),
  masking: resourceMaskingSchema.optional(),
});

const postgresResource = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _'),
  protocol: z.literal('postgres'),
  target: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: z.string().optional(),
    tls: z.boolean().default(false),
    /**
     * A second backend login, for sessions whose caller may only read on this resource (policy denies them every
     * write, ddl and admin operation): a role granted SELECT only, so a statement the gateway misjudged still cannot
     * write. Without it, those sessions use `user` with default_transaction_read_only on.
     */
    readOnlyLogin: z.strictObject({ user: z.string().min(1), password: z.string().optional() }).optional(),
  }),
  policy: z.array(policyRule).default([]),
  masking: resourceMaskingSchema.optional(),
});

const resource = z.discriminatedUnion('protocol', [httpResource, postgresResource], {
  error: 'expected protocol: http or postgres',
});

const store = z
  .union([
    z.strictObject({
      sqlite: z.strictObject({
        path: z.string().min(1),
        /**
         * Record through an append-only spool next to the file (one write per batch), the log filled behind by a
         * thread of its own; off: every batch is a commit on the gateway's thread.
         */
        spool: z.boolean().default(true),
      }),
    }),
    z.strictObject({ postgres: z.strictObject({ url: z.string().min(1) }) }),
  ])
  .default({ sqlite: { path: '.gatehouse/gatehouse.db', spool: true } });

/** One continuous export destination for a SIEM; each keeps its own delivery cursor in the store. */
const auditSink = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _'),
      type: z.literal('file'),
      /** JSON lines appended to this file (relative to the config file). */
      path: z.string().min(1),
    }),
    z.strictObject({
      name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _'),
      type: z.literal('webhook'),
      /** Receives POSTs of JSON lines (application/x-ndjson); any 2xx acknowledges the batch. */
      url: httpUrl,
      /** Extra headers, e.g. an authorization value from a secret reference. */
      headers: z.record(z.string(), z.string()).default({}),
      timeout: duration.default(10_000),
    }),
  ],
  { error: 'expected type: file or webhook' },
);

/** Session recording, tamper evidence, retention, export and the optional forensic copy. */
const audit = z
  .strictObject({
    /** Bytes of (masked) response content kept per operation for replay; 0 keeps none. */
    captureBytes: z
      .number()
      .int()
      .min(0)
      .default(16 * 1024),
    /**
     * A plain read (a PostgreSQL SELECT with no function call and no risk tag) starts at the backend while its record
     * is being made durable; none of its result is released before the record is, and if the record fails the result
     * is withheld and the session ends. Everything else waits for its record before it runs. `false`: reads wait too.
     */
    overlapReads: z.boolean().default(true),
    /**
     * A plain write (INSERT, UPDATE, DELETE or MERGE with no function call and no risk tag) sent inside a transaction
     * block starts at the backend while its record is being made durable: nothing it changes commits before COMMIT,
     * which waits for its own record and so for every record before it. Its answer waits for its record; if the
     * record fails the session ends and the transaction is rolled back. `false`: such writes wait for their record.
     */
    overlapTransactionWrites: z.boolean().default(true),
    checkpoints: z
      .strictObject({
        /** Ed25519 private key (PKCS#8 PEM), held outside the store: use `${file:...}` or `${env:...}`. */
        signingKey: z.string().min(1).optional(),
        /** Ed25519 public key (SPKI PEM) for `audit verify` on machines that do not hold the private key. */
        publicKey: z.string().min(1).optional(),
        /**
         * Events after the last signed checkpoint are hash-linked but not signed: someone able to write the store
         * could cut or rewrite that tail unseen. A minute keeps the window short for one signature and row a minute.
         */
        interval: duration.default(60_000),
      })
      .prefault({}),
    retention: z.strictObject({ maxAge: duration, interval: duration.default(3_600_000) }).optional(),
    export: z
      .strictObject({
        sinks: z.array(auditSink).default([]),
        /** Pause between polls once a sink has caught up. */
        interval: duration.default(1_000),
        batch: z.number().int().min(1).max(10_000).default(500),
      })
      .prefault({}),
    forensic: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** 32-byte AES-256-GCM key as base64 or hex, from a secret reference. */
        key: z.string().min(1).optional(),
        /** Groups whose members may read forensic copies through the CLI. */
        auditorGroups: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
  })
  .prefault({})
  .superRefine((a, ctx) => {
    if (a.retention && a.checkpoints.signingKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpoints', 'signingKey'],
        message: 'retention needs a checkpoint signing key: pruned history is anchored by a signed checkpoint',
      });
    }
    if (a.forensic.enabled && (a.forensic.key === undefined || a.forensic.auditorGroups.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['forensic'], message: 'forensic copies need a key and auditorGroups' });
    }
  });

/** Just-in-time approval: how long reviews wait, who is told, and which access windows may be requested. */
const REVIEW_EVENTS = ['created', 'approved', 'denied', 'expired', 'withdrawn', 'executed'] as const;
const approvalWebhook = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _'),
    url: httpUrl,
    /** `json`: the signed review payload; `slack`: a Slack incoming-webhook message (`{ text }`). */
    format: z.enum(['json', 'slack']).default('json'),
    /** HMAC-SHA256 key for the signature headers, from a secret reference; required for `json`. */
    secret: z.string().min(16).optional(),
    events: z.array(z.enum(REVIEW_EVENTS)).min(1).default(['created', 'approved', 'denied']),
    timeout: duration.default(5_000),
  })
  .refine((w) => w.format === 'slack' || w.secret !== undefined, {
    message: 'a json webhook needs a secret (at least 16 characters) to sign its payloads',
    path: ['secret'],
  });
const accessWindowPolicy = z.strictObject({
  resources: z.array(z.string().min(1)).min(1),
  kinds: z.array(z.enum(OPERATION_KINDS)).min(1),
  /** Groups whose members may ask for this access, for themselves or for one of these groups. */
  requesters: z.array(z.string().min(1)).min(1),
  approvers: z.array(z.string().min(1)).min(1),
  approvals: z.number().int().min(1).max(10).default(1),
  maxDuration: duration.default(8 * 3_600_000),
});
const approvals = z
  .strictObject({
    /** How long a review stays decidable before it expires. */
    timeout: duration.default(15 * 60_000),
    /** Longest an HTTP request is held for a decision; then the caller gets 202 and the review id. */
    httpWait: duration.default(25_000),
    /** Longest a PostgreSQL statement is held (never beyond `timeout`); then it fails and the review expires. */
    postgresWait: duration.default(5 * 60_000),
    /** How long an approved HTTP operation may be sent again to run (once). */
    validity: duration.default(10 * 60_000),
    /** How often the store is read for decisions made by other replicas, expiries and access windows. */
    pollInterval: duration.default(2_000),
    /** Bytes of an HTTP request body kept in the review for approvers to read. */
    bodyExcerptBytes: z.number().int().min(0).max(65_536).default(2_048),
    /** Where approvers reach the admin listener (links in notices and notifications). */
    publicUrl: httpUrl.optional(),
    notifications: z.array(approvalWebhook).default([]),
    /** Decisions posted by a chat-ops bot to `POST /api/webhooks/decision`, signed like outbound notifications. */
    inbound: z
      .strictObject({
        secret: z.string().min(16),
        /** Issuer recorded for the bot's approvers (`subject` comes from the payload). */
        issuer: z.string().min(1).default('chatops'),
        /** Approver groups the bot speaks for. */
        groups: z.array(z.string().min(1)).min(1),
        /** Largest accepted clock difference; replays inside it are refused by nonce. */
        tolerance: duration.default(300_000),
      })
      .optional(),
    access: z.array(accessWindowPolicy).default([]),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    listen: z
      .strictObject({
        http: listenAddress.optional(),
        postgres: listenAddress.optional(),
        admin: listenAddress.optional(),
      })
      .prefault({}),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
    http: z
      .strictObject({
        /** Largest request body read whole (inference routes, to find the model). Others stream. */
        maxInspectedBodyBytes: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024),
        maxHeaderBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024),
        /** A client that sends its headers slower than this is dropped. */
        headersTimeout: duration.default(10_000),
        /** Longest time to receive a whole request (headers and body) from a client. */
        requestTimeout: duration.default(600_000),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        /** PEM files for the PostgreSQL listener's TLS (SSLRequest). Relative paths resolve against the config file. */
        tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
        /**
         * Accept the token as a cleartext password on plain TCP. Only for loopback set-ups such as the quickstart:
         * anywhere else a token on the wire can be replayed until it expires.
         */
        allowPlaintextPassword: z.boolean().default(false),
        startupTimeout: duration.default(10_000),
        maxMessageBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024),
        /** Largest SQL text classified (Query or Parse); longer statements are refused with SQLSTATE 54000. */
        maxStatementBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 * 1024),
        /** Longest a large statement may take to classify on its worker thread; refused with 54001 after. */
        statementParseTimeout: duration.default(5_000),
      })
      .prefault({}),
    identity: z
      .strictObject({
        issuers: z.array(issuer).default([]),
        devIssuer: devIssuer.prefault({}),
      })
      .prefault({}),
    store,
    audit,
    approvals,
    quotas: quotasSchema,
    resources: z.array(resource).default([]),
    masking: maskingSchema,
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
  })
  .transform(inheritMasking);

export type GatehouseConfig = z.output<typeof configSchema>;
export type IssuerConfig = GatehouseConfig['identity']['issuers'][number];
export type DevIssuerConfig = GatehouseConfig['identity']['devIssuer'];
export type ResourceConfig = GatehouseConfig['resources'][number];
export type HttpResourceConfig = Extract<ResourceConfig, { protocol: 'http' }>;
export type PostgresResourceConfig = Extract<ResourceConfig, { protocol: 'postgres' }>;
export type PolicyRuleConfig = HttpResourceConfig['policy'][number];
export type AuditConfig = GatehouseConfig['audit'];
export type AuditSinkConfig = AuditConfig['export']['sinks'][number];
export type ApprovalsConfig = GatehouseConfig['approvals'];
export type ListenAddress = NonNullable<GatehouseConfig['listen']['http']>;
