import type { KnownOperationKind } from '../core/operation.js';

/**
 * A time-boxed elevation of access (an approved access window): `kind` on `resource`, for one identity or for every
 * member of a group, until `expiresAt`. Policy treats it as one more `allow` rule for whom it names.
 */
export interface AccessGrant {
  /** The access review that granted it. */
  readonly reviewId: string;
  readonly resource: string;
  readonly kind: KnownOperationKind;
  /** Exactly one of `subject` (with its issuer) and `group` names the grantee. */
  readonly issuer?: string;
  readonly subject?: string;
  readonly group?: string;
  /** Epoch ms; the grant stops applying at this instant, whatever the cache holds. */
  readonly expiresAt: number;
}

/**
 * Where the engine reads active grants. Synchronous and in memory on purpose: policy runs on every request, so the
 * source keeps its own cache current (on change and by polling the store); the engine still checks expiry itself.
 */
export interface GrantSource {
  grantsFor(resource: string): readonly AccessGrant[];
}

export function grantCovers(
  grant: AccessGrant,
  identity: { readonly issuer?: string; readonly subject?: string; readonly groups: readonly string[] },
): boolean {
  if (grant.group !== undefined) return identity.groups.includes(grant.group);
  return grant.subject !== undefined && grant.subject === identity.subject && grant.issuer === identity.issuer;
}
