import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeJwt } from 'jose';
import type { LoadedConfig } from '../config/load.js';
import type { ResourceConfig } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import { GatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { ClaimMapping } from '../identity/claim-mapping.js';
import { DevIssuer } from '../identity/dev-issuer.js';
import { JwtVerifier, type LocalIssuer } from '../identity/jwt-verifier.js';
import { PolicyRule } from '../policy/rule.js';
import { CliError } from './exit-codes.js';

/** The caller a token stands for, and what each resource's policy would say to it. */
export interface TokenInspection {
  readonly verified: boolean;
  readonly issuer: string;
  readonly subject: string | undefined;
  readonly groups: readonly string[];
  readonly expiresAt: string | undefined;
  readonly resources: readonly ResourceRules[];
}

interface ResourceRules {
  readonly resource: string;
  readonly protocol: string;
  readonly rules: readonly {
    readonly id: string;
    readonly matched: readonly string[];
    readonly allow: readonly string[];
    readonly review: readonly string[];
    readonly deny: readonly string[];
  }[];
}

/** Why a token was refused, as something to act on (this is the operator's own tool: the reason may be shown). */
const REFUSAL_HINTS: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  malformed: 'not a compact JWS (three base64url parts)',
  'alg-not-allowed': "its alg is not in the issuer's algorithms (HS* and none are never accepted)",
  'unknown-issuer': 'its iss is not a configured issuer (identity.issuers)',
  'bad-signature': "the signature does not verify with the issuer's keys",
  'unknown-key': "its kid is not in the issuer's JWKS",
  expired: 'it has expired',
  'not-yet-valid': 'it is not valid yet (nbf or iat in the future: check clocks)',
  'wrong-audience': "its aud names none of the issuer's audience values",
  'wrong-issuer': 'its iss does not match the issuer',
  'lifetime-too-long': "it lives longer than the issuer's maxTokenLifetime",
  'missing-claim': 'a required claim is missing (exp, iat, or the subjectClaim)',
  'invalid-claim': 'a claim has an invalid value',
  'wrong-type': "its typ header is not the issuer's tokenType",
  'jwks-unavailable': "the issuer's keys could not be fetched (jwksUri, discovery, caFile, network)",
});

/** The token as given: trimmed, a `Bearer ` prefix removed. */
export function normaliseToken(text: string): string {
  return text.trim().replace(/^Bearer\s+/i, '');
}

export async function inspectToken(loaded: LoadedConfig, token: string, verify: boolean): Promise<TokenInspection> {
  const { config } = loaded;
  let issuer: string;
  let subject: string | undefined;
  let groups: readonly string[];
  let expiresAt: number | undefined;
  let claims: Readonly<Record<string, unknown>>;
  if (verify) {
    const identity = await verified(loaded, token);
    ({ issuer, subject, groups, expiresAt, claims } = identity);
  } else {
    try {
      claims = decodeJwt(token);
    } catch {
      throw new CliError('the token cannot be decoded: not a compact JWS (three base64url parts)');
    }
    issuer = String(claims['iss'] ?? '');
    const configured = config.identity.issuers.find((i) => i.issuer === issuer);
    const dev = config.identity.devIssuer;
    const mapping = configured
      ? new ClaimMapping(configured)
      : dev.enabled && dev.issuer === issuer
        ? new ClaimMapping({ groupsClaim: dev.groupsClaim })
        : undefined;
    if (mapping === undefined) throw new CliError(`iss "${issuer}" is not a configured issuer (identity.issuers)`);
    subject = mapping.subject(claims);
    groups = mapping.groups(claims);
    expiresAt = typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : undefined;
  }
  const caller = { groups, claims, ...(subject === undefined ? {} : { subject }) };
  return {
    verified: verify,
    issuer,
    subject,
    groups,
    expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString(),
    resources: config.resources.map((resource) => rulesFor(resource, caller)),
  };
}

async function verified(loaded: LoadedConfig, token: string): Promise<Identity> {
  const { config, baseDir } = loaded;
  const trustedLocal: LocalIssuer[] = [];
  const dev = config.identity.devIssuer;
  // Without its key file the development issuer has minted nothing, and inspecting must not create one.
  if (dev.enabled && existsSync(resolve(baseDir, dev.keyFile))) {
    trustedLocal.push((await DevIssuer.open(dev, baseDir, systemClock)).localIssuer());
  }
  const verifier = new JwtVerifier({ issuers: config.identity.issuers, trustedLocal, baseDir, clock: systemClock });
  try {
    return await verifier.verify(token);
  } catch (error) {
    if (!(error instanceof GatehouseError) || error.code !== 'auth.invalid_token') throw error;
    const reason = String(error.details['reason'] ?? 'refused');
    throw new CliError(`token refused (${reason}): ${REFUSAL_HINTS[reason] ?? 'see the gateway log'}`);
  }
}

function rulesFor(resource: ResourceConfig, caller: Parameters<PolicyRule['matchedBy']>[0]): ResourceRules {
  const rules = resource.policy.flatMap((config, index) => {
    const rule = new PolicyRule(`resources.${resource.name}.policy[${index}]`, config);
    const matched = rule.matchedBy(caller);
    return matched === undefined
      ? []
      : [{ id: rule.id, matched, allow: config.allow, review: config.review, deny: config.deny }];
  });
  return { resource: resource.name, protocol: resource.protocol, rules };
}

/** The inspection as text for a terminal. */
export function formatInspection(inspection: TokenInspection, now: number): string {
  const lines: string[] = [];
  if (!inspection.verified)
    lines.push('NOT VERIFIED: decoded only (--no-verify); signature, audience and expiry were not checked');
  const expiry = inspection.expiresAt === undefined ? 'no exp' : `expires ${inspection.expiresAt}`;
  const left =
    inspection.expiresAt === undefined
      ? ''
      : ` (${Math.round((Date.parse(inspection.expiresAt) - now) / 1000)} s from now)`;
  lines.push(`verified: ${inspection.verified ? 'yes' : 'NO'}`);
  lines.push(`issuer:   ${inspection.issuer}`);
  lines.push(`subject:  ${inspection.subject ?? '(none: the subject claim is missing)'}`);
  lines.push(`groups:   ${inspection.groups.join(', ') || '(none)'}`);
  lines.push(`token:    ${expiry}${left}`);
  lines.push('rules that apply:');
  for (const resource of inspection.resources) {
    if (resource.rules.length === 0) {
      lines.push(`  ${resource.resource} (${resource.protocol}): none, every operation is denied`);
      continue;
    }
    lines.push(`  ${resource.resource} (${resource.protocol}):`);
    for (const rule of resource.rules) {
      const verdicts = (['allow', 'review', 'deny'] as const)
        .filter((v) => rule[v].length > 0)
        .map((v) => `${v} ${rule[v].join(', ')}`)
        .join('; ');
      lines.push(`    ${rule.id}: ${verdicts}  [matched ${rule.matched.join(', ')}]`);
    }
  }
  return `${lines.join('\n')}\n`;
}
