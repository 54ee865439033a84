/** Who is calling: the verified claims of a short-lived OIDC token, reduced to what the gateway decides on. */
export interface Identity {
  /** `iss` claim, exactly as the trusted issuer's configuration names it. */
  readonly issuer: string;
  /** `sub` claim. */
  readonly subject: string;
  /** Group names from the issuer's configured groups claim (deduplicated, sorted). */
  readonly groups: readonly string[];
  /** `jti` claim when the token has one; otherwise a digest of the token, so audit can still tell tokens apart. */
  readonly tokenId: string;
  /** `exp` claim in epoch milliseconds: sessions end or re-authenticate at this point. */
  readonly expiresAt: number;
  /** All verified claims, for quotas and tenant filters keyed on claim values. Never logged whole. */
  readonly claims: Readonly<Record<string, unknown>>;
}
