// `audit`: session recording, tamper evidence, retention, export and the optional forensic copy.
import { z } from 'zod';
import { duration, httpUrl } from './schema-parts.js';

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
export const auditSchema = z
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
