import type { Decision } from '../../core/decision.js';
import { isGatehouseError } from '../../core/errors.js';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';

/**
 * A decision that refuses, as the JSON-RPC error the caller gets: it names the rule and the reason. Params the gateway
 * could not read are the caller's mistake (-32602), though policy denied them too.
 */
export function refusalOf(decision: Decision): RpcError {
  const unreadable = decision.reason === 'unclassifiable';
  return new RpcError(unreadable ? RPC_ERRORS.invalidParams : RPC_ERRORS.denied, decision.message, {
    rule: decision.rule.id,
    reason: decision.reason,
  });
}

/** Any failure as a JSON-RPC error: the gateway's own as they are, audit failures named, the rest internal. */
export function failureOf(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  if (isGatehouseError(error) && error.code === 'audit.unavailable')
    return new RpcError(RPC_ERRORS.audit, error.message);
  return new RpcError(RPC_ERRORS.internal, 'internal gateway error');
}
