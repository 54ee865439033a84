import { z } from 'zod';
import { OPERATION_KINDS } from '../core/operation.js';
import { inheritMasking, maskingIssues, maskingSchema, resourceMaskingSchema } from '../masking/config.js';
import { PROFILE_NAMES, tenantFilterSchema } from '../protocols/http/providers/profile-config.js';
import { READ_FUNCTION_PATTERN } from '../protocols/postgres/sql/read-functions.js';
import { quotasSchema } from '../quotas/config.js';
import { agentsSchema } from './agents-schema.js';
import { devIssuerSchema as devIssuer, issuerSchema as issuer } from './identity-schema.js';
import { policyRuleSchema as policyRule } from './policy-rule-schema.js';
import { modelPricesSchema } from './price-schema.js';
import { duration, httpUrl, listenAddress } from './schema-parts.js';

export { ASYMMETRIC_ALGORITHMS } from './identity-schema.js';

const credential = z.strictObject({
  /** Header to set on every upstream request; the caller's own `authorization` is always removed. */
  header: z
    .string()
    .min(1)
    .default('authorization')
    .describe("Header to set on every upstream request; the caller's own `authorization` is always removed."),
  value: z.string().min(1).describe('Header value, from a secret reference (`${env:...}` or `${file:...}`).'),
});

const httpOperationOverride = z.strictObject({
  /** HTTP method, or `*` for any. */
  method: z.string().min(1).default('*').describe('HTTP method, or `*` for any.'),
  /** Path pattern relative to the resource: `*` matches one segment, `**` the rest. */
  path: z
    .string()
    .startsWith('/')
    .describe('Path pattern relative to the resource: `*` matches one segment, `**` the rest.'),
  kind: z.enum(OPERATION_KINDS).describe('The operation kind requests matching this entry are classified as.'),
  /** Read the JSON body's `model` field (inference routes). */
  inference: z.boolean().default(false).describe("Read the JSON body's `model` field (inference routes)."),
});

/** How the gateway reaches a resource's backend, the same for every protocol. */
const routeFields = {
  via: z
    .enum(['direct', 'agent'])
    .default('direct')
    .describe('`direct`: the gateway connects itself. `agent`: through a connected agent, which holds the credential.'),
  agentGroup: z
    .string()
    .min(1)
    .optional()
    .describe('With `via: agent`: only agents announcing this group serve the resource.'),
};

const httpResource = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
    .describe('Resource name (lower-case letters, digits, - or _); policy, audit and `policy explain` use it.'),
  protocol: z.literal('http').describe('`http` for an HTTP upstream.'),
  target: httpUrl.describe("Upstream base URL (with `via: agent`, the agent's config holds the real one)."),
  ...routeFields,
  /** Requests whose path starts with this prefix go to this resource; the prefix is removed upstream. */
  pathPrefix: z
    .string()
    .regex(/^\/[^?#]*[^/?#]$/, 'expected a path prefix such as /llm (no trailing slash)')
    .optional()
    .describe('Requests whose path starts with this prefix go to this resource; the prefix is removed upstream.'),
  /** Optionally route by Host header instead of (or as well as) the path prefix. */
  host: z
    .string()
    .min(1)
    .optional()
    .describe('Optionally route by Host header instead of (or as well as) the path prefix.'),
  credential: credential
    .optional()
    .describe("The credential the gateway sends upstream in place of the caller's token."),
  timeouts: z
    .strictObject({
      connect: duration.default(5_000).describe('Longest wait to connect to the upstream.'),
      /** Until the upstream's response headers arrive. */
      headers: duration.default(60_000).describe("Until the upstream's response headers arrive."),
      /** Longest silence while streaming a body, in either direction. */
      idle: duration.default(300_000).describe('Longest silence while streaming a body, in either direction.'),
    })
    .prefault({})
    .describe('Upstream timeouts.'),
  operations: z
    .array(httpOperationOverride)
    .default([])
    .describe(
      'Classification overrides: method and path pattern to operation kind, checked before the built-in rules.',
    ),
  /** What the upstream speaks (inference or vector-store API): classification by operation, model and collection. */
  profile: z
    .enum(PROFILE_NAMES)
    .optional()
    .describe(
      'What the upstream speaks (inference or vector-store API): classification by operation, model and collection.',
    ),
  /** Vector stores: constrain search, scroll and delete requests to the caller's tenant (claim value). */
  tenantFilter: tenantFilterSchema
    .optional()
    .describe("Vector stores: constrain search, scroll and delete requests to the caller's tenant (claim value)."),
  modelPrices: modelPricesSchema.optional(),
  policy: z
    .array(policyRule)
    .default([])
    .describe('Policy rules: who may do what on this resource (nothing matching means deny).'),
  masking: resourceMaskingSchema
    .optional()
    .describe('Masking profile of this resource (inherits the top-level `masking` defaults).'),
});

const postgresResource = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
    .describe(
      'Resource name (lower-case letters, digits, - or _); clients name it as the database in their connection.',
    ),
  protocol: z.literal('postgres').describe('`postgres` for a PostgreSQL backend.'),
  target: z
    .strictObject({
      host: z.string().min(1).describe('Backend host.'),
      port: z.number().int().min(1).max(65535).default(5432).describe('Backend port.'),
      database: z.string().min(1).describe('Backend database name.'),
      user: z.string().min(1).describe('Backend user the gateway logs in as.'),
      password: z.string().optional().describe('Backend password (use a secret reference).'),
      tls: z.boolean().default(false).describe('Connect to the backend over TLS.'),
      readOnlyLogin: z
        .strictObject({
          user: z.string().min(1).describe('Backend role granted SELECT only.'),
          password: z.string().optional().describe('Its password (use a secret reference).'),
        })
        .optional()
        .describe(
          'A second backend login, for sessions whose caller may only read on this resource (policy denies them every write, ddl and admin operation): a role granted SELECT only, so a statement the gateway misjudged still cannot write. Without it, those sessions use `user` with default_transaction_read_only on.',
        ),
    })
    .describe(
      'The backend the gateway connects to with its own credentials (with `via: agent`, unused: the agent holds them).',
    ),
  ...routeFields,
  readFunctions: z
    .array(
      z
        .string()
        .regex(
          READ_FUNCTION_PATTERN,
          'expected a function name such as analytics.score or "tenant_*" (schema optional)',
        ),
    )
    .default([])
    .describe(
      'Functions outside pg_catalog that count as plain reads (`analytics.score`, `tenant_*`), matched as a call writes them, schema-qualified or not, `*` a wildcard. Any other non-built-in call makes a statement a write.',
    ),
  policy: z
    .array(policyRule)
    .default([])
    .describe('Policy rules: who may do what on this resource (nothing matching means deny).'),
  masking: resourceMaskingSchema
    .optional()
    .describe('Masking profile of this resource (inherits the top-level `masking` defaults).'),
});

const resource = z.discriminatedUnion('protocol', [httpResource, postgresResource], {
  error: 'expected protocol: http or postgres',
});

const store = z
  .union([
    z.strictObject({
      sqlite: z
        .strictObject({
          path: z.string().min(1).describe('SQLite database file (relative to the config file).'),
          /**
           * Record through an append-only spool next to the file (one write per batch), the log filled behind by a
           * thread of its own; off: every batch is a commit on the gateway's thread.
           */
          spool: z
            .boolean()
            .default(true)
            .describe(
              "Record through an append-only spool next to the file (one write per batch), the log filled behind by a thread of its own; off: every batch is a commit on the gateway's thread.",
            ),
        })
        .describe('The embedded SQLite store (one gateway process).'),
    }),
    z.strictObject({
      postgres: z
        .strictObject({
          url: z.string().min(1).describe('postgres:// URL of the shared store database (use a secret reference).'),
          instanceId: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected letters, digits, ., _ or - (at most 63)')
            .optional()
            .describe(
              "This gateway instance's id: the name of the hash chain it appends to (one per instance, so replicas never wait for each other). Stable across restarts of the same instance. Default: GATEHOUSE_INSTANCE_ID, else an id made once from the host name and kept in `.gatehouse/instance-id`. Two running processes with one id are refused at start.",
            ),
        })
        .describe('A shared PostgreSQL store, for several gateway replicas.'),
    }),
  ])
  .default({ sqlite: { path: '.gatehouse/gatehouse.db', spool: true } });

/** One continuous export destination for a SIEM; each keeps its own delivery cursor in the store. */
const auditSink = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      name: z
        .string()
        .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
        .describe('Sink name; its delivery cursor is kept under it.'),
      type: z.literal('file').describe('`file`: JSON lines appended to a file.'),
      /** JSON lines appended to this file (relative to the config file). */
      path: z.string().min(1).describe('JSON lines appended to this file (relative to the config file).'),
    }),
    z.strictObject({
      name: z
        .string()
        .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
        .describe('Sink name; its delivery cursor is kept under it.'),
      type: z.literal('webhook').describe('`webhook`: JSON lines POSTed to a URL.'),
      /** Receives POSTs of JSON lines (application/x-ndjson); any 2xx acknowledges the batch. */
      url: httpUrl.describe('Receives POSTs of JSON lines (application/x-ndjson); any 2xx acknowledges the batch.'),
      /** Extra headers, e.g. an authorization value from a secret reference. */
      headers: z
        .record(z.string(), z.string())
        .default({})
        .describe('Extra headers, e.g. an authorization value from a secret reference.'),
      timeout: duration.default(10_000).describe('Longest wait for the webhook to answer a batch.'),
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
      .default(16 * 1024)
      .describe('Bytes of (masked) response content kept per operation for replay; 0 keeps none.'),
    /**
     * A plain read (a PostgreSQL SELECT with no function call and no risk tag) starts at the backend while its record
     * is being made durable; none of its result is released before the record is, and if the record fails the result
     * is withheld and the session ends. Everything else waits for its record before it runs. `false`: reads wait too.
     */
    overlapReads: z
      .boolean()
      .default(true)
      .describe(
        'A plain read (a PostgreSQL SELECT with no function call and no risk tag) starts at the backend while its record is being made durable; none of its result is released before the record is, and if the record fails the result is withheld and the session ends. Everything else waits for its record before it runs. `false`: reads wait too.',
      ),
    /**
     * A plain write (INSERT, UPDATE, DELETE or MERGE with no function call and no risk tag) sent inside a transaction
     * block starts at the backend while its record is being made durable: nothing it changes commits before COMMIT,
     * which waits for its own record and so for every record before it. Its answer waits for its record; if the
     * record fails the session ends and the transaction is rolled back. `false`: such writes wait for their record.
     */
    overlapTransactionWrites: z
      .boolean()
      .default(true)
      .describe(
        'A plain write (INSERT, UPDATE, DELETE or MERGE with no function call and no risk tag) sent inside a transaction block starts at the backend while its record is being made durable: nothing it changes commits before COMMIT, which waits for its own record and so for every record before it. Its answer waits for its record; if the record fails the session ends and the transaction is rolled back. `false`: such writes wait for their record.',
      ),
    checkpoints: z
      .strictObject({
        /** Ed25519 private key (PKCS#8 PEM), held outside the store: use `${file:...}` or `${env:...}`. */
        signingKey: z
          .string()
          .min(1)
          .optional()
          .describe('Ed25519 private key (PKCS#8 PEM), held outside the store: use `${file:...}` or `${env:...}`.'),
        /** Ed25519 public key (SPKI PEM) for `audit verify` on machines that do not hold the private key. */
        publicKey: z
          .string()
          .min(1)
          .optional()
          .describe('Ed25519 public key (SPKI PEM) for `audit verify` on machines that do not hold the private key.'),
        /**
         * Events after the last signed checkpoint are hash-linked but not signed: someone able to write the store
         * could cut or rewrite that tail unseen. A minute keeps the window short for one signature and row a minute.
         */
        interval: duration
          .default(60_000)
          .describe(
            'Events after the last signed checkpoint are hash-linked but not signed: someone able to write the store could cut or rewrite that tail unseen. A minute keeps the window short for one signature and row a minute.',
          ),
        keyFile: z
          .string()
          .min(1)
          .default('.gatehouse/audit-checkpoint.pem')
          .describe(
            'With no signingKey, a key generated on first start and kept here (relative to the config file, outside the store), so checkpoints are signed by default.',
          ),
        sink: z
          .union([z.string().min(1), auditSink])
          .optional()
          .describe(
            'Where checkpoints also go, outside the store: the name of an export sink, or a sink of its own (a file on other storage, a webhook). `audit verify --against FILE` checks the store against them.',
          ),
      })
      .prefault({})
      .describe('Signed checkpoints over the hash chain of audit events.'),
    retention: z
      .strictObject({
        maxAge: duration.describe('Events older than this are pruned.'),
        interval: duration.default(3_600_000).describe('How often pruning runs.'),
      })
      .optional()
      .describe('Prune events older than `maxAge`, anchored by a signed checkpoint.'),
    export: z
      .strictObject({
        sinks: z.array(auditSink).default([]).describe('Export destinations.'),
        /** Pause between polls once a sink has caught up. */
        interval: duration.default(1_000).describe('Pause between polls once a sink has caught up.'),
        batch: z.number().int().min(1).max(10_000).default(500).describe('Events per delivery.'),
      })
      .prefault({})
      .describe('Continuous export of audit events to SIEM sinks.'),
    forensic: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Keep forensic copies.'),
        /** 32-byte AES-256-GCM key as base64 or hex, from a secret reference. */
        key: z
          .string()
          .min(1)
          .optional()
          .describe('32-byte AES-256-GCM key as base64 or hex, from a secret reference.'),
        /** Groups whose members may read forensic copies through the CLI. */
        auditorGroups: z
          .array(z.string().min(1))
          .default([])
          .describe('Groups whose members may read forensic copies through the CLI.'),
      })
      .prefault({})
      .describe('An encrypted copy of unmasked content, readable only by auditor groups.'),
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
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
      .describe('Notification name.'),
    url: httpUrl.describe('Where notifications are POSTed.'),
    /** `json`: the signed review payload; `slack`: a Slack incoming-webhook message (`{ text }`). */
    format: z
      .enum(['json', 'slack'])
      .default('json')
      .describe('`json`: the signed review payload; `slack`: a Slack incoming-webhook message (`{ text }`).'),
    /** HMAC-SHA256 key for the signature headers, from a secret reference; required for `json`. */
    secret: z
      .string()
      .min(16)
      .optional()
      .describe('HMAC-SHA256 key for the signature headers, from a secret reference; required for `json`.'),
    events: z
      .array(z.enum(REVIEW_EVENTS))
      .min(1)
      .default(['created', 'approved', 'denied'])
      .describe('Review events that are sent.'),
    timeout: duration.default(5_000).describe('Longest wait for the webhook to answer.'),
  })
  .refine((w) => w.format === 'slack' || w.secret !== undefined, {
    message: 'a json webhook needs a secret (at least 16 characters) to sign its payloads',
    path: ['secret'],
  });
const accessWindowPolicy = z.strictObject({
  resources: z.array(z.string().min(1)).min(1).describe('Resources this access window may cover.'),
  kinds: z.array(z.enum(OPERATION_KINDS)).min(1).describe('Operation kinds the window may allow.'),
  /** Groups whose members may ask for this access, for themselves or for one of these groups. */
  requesters: z
    .array(z.string().min(1))
    .min(1)
    .describe('Groups whose members may ask for this access, for themselves or for one of these groups.'),
  approvers: z.array(z.string().min(1)).min(1).describe('Groups who may approve a request.'),
  approvals: z.number().int().min(1).max(10).default(1).describe('Distinct approvals a request needs.'),
  maxDuration: duration.default(8 * 3_600_000).describe('Longest window that may be requested.'),
});
const approvals = z
  .strictObject({
    /** How long a review stays decidable before it expires. */
    timeout: duration.default(15 * 60_000).describe('How long a review stays decidable before it expires.'),
    /** Longest an HTTP request is held for a decision; then the caller gets 202 and the review id. */
    httpWait: duration
      .default(25_000)
      .describe('Longest an HTTP request is held for a decision; then the caller gets 202 and the review id.'),
    /** Longest a PostgreSQL statement is held (never beyond `timeout`); then it fails and the review expires. */
    postgresWait: duration
      .default(5 * 60_000)
      .describe(
        'Longest a PostgreSQL statement is held (never beyond `timeout`); then it fails and the review expires.',
      ),
    /** How long an approved HTTP operation may be sent again to run (once). */
    validity: duration
      .default(10 * 60_000)
      .describe('How long an approved HTTP operation may be sent again to run (once).'),
    /** How often the store is read for decisions made by other replicas, expiries and access windows. */
    pollInterval: duration
      .default(2_000)
      .describe('How often the store is read for decisions made by other replicas, expiries and access windows.'),
    /** Bytes of an HTTP request body kept in the review for approvers to read. */
    bodyExcerptBytes: z
      .number()
      .int()
      .min(0)
      .max(65_536)
      .default(2_048)
      .describe('Bytes of an HTTP request body kept in the review for approvers to read.'),
    /** Where approvers reach the admin listener (links in notices and notifications). */
    publicUrl: httpUrl
      .optional()
      .describe('Where approvers reach the admin listener (links in notices and notifications).'),
    notifications: z
      .array(approvalWebhook)
      .default([])
      .describe('Webhooks told about reviews (JSON signed with HMAC, or Slack).'),
    /** Decisions posted by a chat-ops bot to `POST /api/webhooks/decision`, signed like outbound notifications. */
    inbound: z
      .strictObject({
        secret: z.string().min(16).describe('Shared secret (at least 16 characters) the bot signs decisions with.'),
        /** Issuer recorded for the bot's approvers (`subject` comes from the payload). */
        issuer: z
          .string()
          .min(1)
          .default('chatops')
          .describe("Issuer recorded for the bot's approvers (`subject` comes from the payload)."),
        /** Approver groups the bot speaks for. */
        groups: z.array(z.string().min(1)).min(1).describe('Approver groups the bot speaks for.'),
        /** Largest accepted clock difference; replays inside it are refused by nonce. */
        tolerance: duration
          .default(300_000)
          .describe('Largest accepted clock difference; replays inside it are refused by nonce.'),
      })
      .optional()
      .describe(
        'Decisions posted by a chat-ops bot to `POST /api/webhooks/decision`, signed like outbound notifications.',
      ),
    access: z
      .array(accessWindowPolicy)
      .default([])
      .describe('Access windows callers may request (`gatehouse access request`).'),
  })
  .prefault({});

/** The configuration before masking settings are inherited: what the configuration reference is generated from. */
export const configObjectSchema = z
  .strictObject({
    listen: z
      .strictObject({
        http: listenAddress.optional().describe('HTTP data path.'),
        postgres: listenAddress.optional().describe('PostgreSQL data path.'),
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
    store: store.describe(
      'Where audit events, reviews and quota counters are kept: `sqlite` (embedded) or `postgres`.',
    ),
    audit: audit.describe('Session recording, tamper evidence, retention, export and the optional forensic copy.'),
    approvals: approvals.describe(
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
export type PolicyRuleConfig = HttpResourceConfig['policy'][number];
export type AuditConfig = GatehouseConfig['audit'];
export type AuditSinkConfig = AuditConfig['export']['sinks'][number];
export type ApprovalsConfig = GatehouseConfig['approvals'];
export type ListenAddress = NonNullable<GatehouseConfig['listen']['http']>;
