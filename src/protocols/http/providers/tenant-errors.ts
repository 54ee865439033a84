import { GatehouseError } from '../../../core/errors.js';

/** The two ways a tenant rewrite fails: the body is malformed, or the call cannot be confined to one tenant. */
export function invalidBody(message: string): GatehouseError {
  return new GatehouseError('request.invalid', message);
}

export function notTenantScoped(message: string): GatehouseError {
  return new GatehouseError('policy.denied', message, { details: { reason: 'tenant-filter' } });
}
