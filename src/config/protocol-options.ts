import { z } from 'zod';

// Options that a protocol interprets but the config schema validates. They live here, not in protocols/, so the
// dependency points one way: protocols read their config from config/, config/ knows nothing of protocols.

/**
 * The provider profiles an HTTP resource may name with `profile:`; each is a file in src/protocols/http/providers/
 * (its registry is typed by this list, so a name without a profile fails the typecheck).
 */
export const PROFILE_NAMES = ['openai', 'anthropic', 'qdrant', 'chroma', 'pinecone'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * `tenantFilter: { field: tenant_id, claim: tenant }`: every search, scroll, count and delete the resource forwards is
 * constrained to points whose payload/metadata `field` equals the caller's `claim` value (a dotted path into the
 * token's claims). A caller without the claim is refused.
 */
export const tenantFilterSchema = z.strictObject({
  field: z.string().min(1).describe('Payload or metadata field holding the tenant.'),
  claim: z.string().min(1).describe("Claim path whose value is the caller's tenant."),
});
export type TenantFilterConfig = z.output<typeof tenantFilterSchema>;

/** A PostgreSQL resource's `readFunctions` entry: `schema.name` or `name`, each part an identifier with `*` wildcards. */
export const READ_FUNCTION_PATTERN = /^([A-Za-z_*][A-Za-z0-9_$*]*\.)?[A-Za-z_*][A-Za-z0-9_$*]*$/;
