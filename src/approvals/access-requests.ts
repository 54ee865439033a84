import type { ApprovalsConfig, ResourceConfig } from '../config/schema.js';
import { type KnownOperationKind, OPERATION_KINDS } from '../core/operation.js';
import type { AccessRequest } from './review.js';
import { reviewError } from './review-errors.js';

/** What a requester asks for: `kind` on `resource` for `durationMs`, for themselves or for one of their groups. */
export interface AccessRequestInput {
  readonly resource: string;
  readonly kind: string;
  readonly durationMs: number;
  readonly reason: string;
  /** Grant to this group (the requester must be a member) instead of the requester alone. */
  readonly group?: string;
}

export interface AccessPolicyMatch {
  readonly access: AccessRequest;
  readonly ruleId: string;
  readonly approvers: readonly string[];
  readonly approvals: number;
}

const MAX_REASON = 500;

/**
 * Checks an access request against `approvals.access`: only windows an entry names (resource, kind, requester group)
 * and no longer than its `maxDuration` may be requested. Returns what the review asks and who approves it.
 */
export function matchAccessPolicy(
  config: ApprovalsConfig,
  resources: readonly ResourceConfig[],
  requesterGroups: readonly string[],
  input: AccessRequestInput,
): AccessPolicyMatch {
  if (!resources.some((r) => r.name === input.resource)) {
    throw reviewError('invalid', `no resource is named "${input.resource}"`);
  }
  if (!(OPERATION_KINDS as readonly string[]).includes(input.kind) || input.kind === 'session') {
    throw reviewError('invalid', `kind must be one of read, write, ddl, admin (got "${input.kind}")`);
  }
  if (!Number.isFinite(input.durationMs) || input.durationMs < 60_000) {
    throw reviewError('invalid', 'an access window lasts at least one minute');
  }
  const reason = input.reason.trim();
  if (reason.length === 0 || reason.length > MAX_REASON) {
    throw reviewError('invalid', `give a reason (1 to ${MAX_REASON} characters) for the approvers`);
  }
  if (input.group !== undefined && !requesterGroups.includes(input.group)) {
    throw reviewError('not-requestable', `you can only request access for a group you belong to ("${input.group}")`);
  }
  const kind = input.kind as KnownOperationKind;
  const speaksFor = input.group === undefined ? requesterGroups : [input.group];
  let tooLong: number | undefined;
  for (const [index, entry] of config.access.entries()) {
    if (!entry.resources.includes(input.resource) || !entry.kinds.includes(kind)) continue;
    if (!entry.requesters.some((g) => speaksFor.includes(g))) continue;
    if (input.durationMs > entry.maxDuration) {
      tooLong = Math.max(tooLong ?? 0, entry.maxDuration);
      continue;
    }
    return {
      access: {
        resource: input.resource,
        kind,
        durationMs: input.durationMs,
        scope: input.group === undefined ? 'identity' : 'group',
        ...(input.group === undefined ? {} : { group: input.group }),
      },
      ruleId: `approvals.access[${index}]`,
      approvers: entry.approvers,
      approvals: entry.approvals,
    };
  }
  if (tooLong !== undefined) {
    throw reviewError(
      'invalid',
      `the longest ${kind} window on ${input.resource} is ${Math.round(tooLong / 60_000)} minutes`,
    );
  }
  throw reviewError(
    'not-requestable',
    `no access policy (approvals.access) lets your groups request ${kind} access to ${input.resource}`,
  );
}
