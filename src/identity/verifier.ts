import type { Identity } from '../core/identity.js';

/**
 * Turns a presented bearer token into an Identity, or throws GatehouseError `auth.invalid_token` (with a reason in
 * `details.reason` for logs and audit, never shown to the caller) / `auth.missing_token`.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}
