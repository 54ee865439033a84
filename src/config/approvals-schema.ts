// `approvals`: how long reviews wait, who is told, and which access windows may be requested.
import { z } from 'zod';
import { OPERATION_KINDS } from '../core/operation.js';
import { duration, httpUrl } from './schema-parts.js';

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
export const approvalsSchema = z
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
