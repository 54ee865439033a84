import { z } from 'zod';

/** The provider profiles a resource may name with `profile:`; each is a file in this folder. */
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
