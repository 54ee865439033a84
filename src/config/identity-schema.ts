// The identity block of the configuration: trusted issuers, how claims become subject and groups, the dev issuer.
import { z } from 'zod';
import { claimPathProblem } from '../core/claim-path.js';
import { parseClaimTemplate } from '../core/claim-template.js';
import { duration, httpUrl } from './schema-parts.js';

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

/** A claim path: `repository`, `realm_access.roles`, `["kubernetes.io"].namespace` (keys with dots in brackets). */
const claimPath = z.string().superRefine((text, ctx) => {
  const problem = claimPathProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});
const claimScalar = z.union([z.string().min(1), z.number(), z.boolean()]);
/** Claim path -> expected value, `*` glob or list of them; every claim named must match. */
export const claimConditions = z
  .record(z.string(), z.union([claimScalar, z.array(claimScalar).min(1)]))
  .superRefine((conditions, ctx) => {
    const paths = Object.keys(conditions);
    if (paths.length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one claim' });
    for (const path of paths) {
      const problem = claimPathProblem(path);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [path], message: problem });
    }
  });

const groupMapping = z
  .strictObject({
    claim: claimPath
      .optional()
      .describe('Every value of this claim (a list, or a space/comma separated string) is a group.'),
    template: z
      .string()
      .superRefine((text, ctx) => {
        try {
          parseClaimTemplate(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      })
      .optional()
      .describe('One group built from claims, e.g. `repo:{repository}:ref:{ref}`; nothing when a claim is missing.'),
    group: z.string().min(1).optional().describe('This fixed group name (usually with `when`).'),
    when: claimConditions
      .optional()
      .describe('Only when every claim named matches: a value, a `*` glob, or a list (any of them).'),
  })
  .refine((m) => [m.claim, m.template, m.group].filter((v) => v !== undefined).length === 1, {
    message: 'a group mapping needs exactly one of claim, template or group',
  });

export const issuerSchema = z.strictObject({
  issuer: z.string().min(1).describe('The `iss` claim, exactly as the issuer writes it.'),
  audience: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('Accepted `aud` value(s); a token must name one of them.'),
  jwksUri: httpUrl
    .optional()
    .describe("The issuer's JWKS URL; when absent it comes from the issuer's OpenID discovery document."),
  caFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      'PEM CA bundle trusted for discovery and JWKS requests (in-cluster issuers with a private CA); relative to the config file.',
    ),
  subjectClaim: claimPath.default('sub').describe('The claim that names the caller (must be a non-empty string).'),
  groupsClaim: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A claim whose values are groups (a list, or a space/comma separated string); `groups` when neither this nor `groups` mappings are set.',
    ),
  groups: z
    .array(groupMapping)
    .default([])
    .describe(
      'Mappings that make groups from claims: a claim as it is, a template over claims, a fixed group; each may have `when`.',
    ),
  tokenType: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Required JWT `typ` header, e.g. `at+jwt` (RFC 9068): keeps an ID token of the same issuer and audience from passing as an access token.',
    ),
  algorithms: z
    .array(z.enum(ASYMMETRIC_ALGORITHMS))
    .min(1)
    .default(['RS256', 'ES256', 'EdDSA'])
    .describe('Accepted signature algorithms; asymmetric only (HS* and none cannot be configured).'),
  clockSkew: duration.default(30_000).describe('Tolerated clock difference for exp, nbf and iat.'),
  maxTokenLifetime: duration.default(3_600_000).describe('Tokens valid for longer than this are refused.'),
});

export const devIssuerSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Trust tokens signed by a local key file (`gatehouse token mint`). Development only.'),
  issuer: z.string().min(1).default('gatehouse-dev').describe('The `iss` of development tokens.'),
  audience: z.string().min(1).default('gatehouse').describe('The `aud` of development tokens.'),
  /** Private signing key (JWK); created on first use. Keep it out of version control. */
  keyFile: z
    .string()
    .min(1)
    .default('.gatehouse/dev-issuer.jwk.json')
    .describe('Private signing key (JWK); created on first use. Keep it out of version control.'),
  groupsClaim: z.string().min(1).default('groups').describe('The claim development tokens carry their groups in.'),
  maxTokenLifetime: duration.default(3_600_000).describe('Longest lifetime `token mint --ttl` may ask for.'),
});
