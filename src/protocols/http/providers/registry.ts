import type { ProfileName, TenantFilterConfig } from '../../../config/protocol-options.js';
import { claimValue } from '../../../core/claim-path.js';
import type { Identity } from '../../../core/identity.js';
import { anthropicProfile } from './anthropic.js';
import { chromaProfile } from './chroma.js';
import { parseJsonBody } from './json-body.js';
import { openAiProfile } from './openai.js';
import { pineconeProfile } from './pinecone.js';
import type { JsonObject, ProviderCall, ProviderProfile, ProviderRequest, TenantConstraint } from './profile.js';
import { unclassifiable } from './profile.js';
import { qdrantProfile } from './qdrant.js';
import { notTenantScoped } from './tenant-errors.js';

/** Every profile by the name a resource's `profile:` gives. */
const PROFILES: Readonly<Record<ProfileName, ProviderProfile>> = Object.assign(Object.create(null), {
  openai: openAiProfile,
  anthropic: anthropicProfile,
  qdrant: qdrantProfile,
  chroma: chromaProfile,
  pinecone: pineconeProfile,
});

/** A resource without `profile:` keeps today's behaviour: OpenAI-compatible inference routes, the rest by method. */
export function profileFor(name: ProfileName | undefined): ProviderProfile {
  return PROFILES[name ?? 'openai'];
}

/**
 * The caller's tenant from its verified claims. `claim` is a dotted path (`org.tenant`); an exact key with dots wins
 * over the path. A missing or non-scalar value refuses the call: no claim, no data (fail closed).
 */
export function tenantOf(config: TenantFilterConfig, identity: Pick<Identity, 'claims'>): TenantConstraint {
  const value = claimValue(identity.claims, config.claim);
  if (typeof value === 'string' && value !== '') return { field: config.field, value };
  if (typeof value === 'number' && Number.isFinite(value)) return { field: config.field, value };
  throw notTenantScoped('the token carries no tenant for this resource');
}

/**
 * The tenant rewrite the listener applies after policy allowed the call and before forwarding it: the body it
 * returns replaces the caller's (serialise it with `serializeBody`). Calls that touch no records pass unchanged;
 * calls that cannot carry a filter are refused.
 */
export function applyTenantFilter(
  profile: ProviderProfile,
  call: ProviderCall,
  body: JsonObject | undefined,
  tenant: TenantConstraint,
): JsonObject | undefined {
  if (call.tenantScope === 'none') return body;
  if (call.tenantScope === 'refuse' || !profile.scopeToTenant)
    throw notTenantScoped(`${call.operation} cannot be confined to one tenant`);
  return profile.scopeToTenant(call, body ?? {}, tenant);
}

/**
 * Classification before policy: `raw` is the buffered body when `profile.needsBody(request)` said so (read with
 * readBodyLimited), else undefined. Returns the call and the parsed body for the later rewrite steps.
 */
export function classifyCall(
  profile: ProviderProfile,
  request: ProviderRequest,
  raw: Buffer | undefined,
): { call: ProviderCall; body?: JsonObject } {
  if (raw === undefined) return { call: profile.classify(request, undefined) };
  const parsed = parseJsonBody(raw);
  if (parsed.unclassifiable !== undefined) {
    const probe = profile.classify(request, undefined);
    return { call: { ...probe, ...unclassifiable(probe.operation, parsed.unclassifiable) } };
  }
  return parsed.body === undefined
    ? { call: profile.classify(request, undefined) }
    : { call: profile.classify(request, parsed.body), body: parsed.body };
}
