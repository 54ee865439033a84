import { ClaimConditions, type ExpectedClaim } from '../core/claim-condition.js';
import { claimAt, claimText, claimValue, parseClaimPath } from '../core/claim-path.js';
import { type ClaimTemplate, parseClaimTemplate, renderClaimTemplate } from '../core/claim-template.js';

/** One `groups:` entry of an issuer: exactly one of claim, template or group; `when` gates it. */
export interface GroupMappingConfig {
  /** Every value of this claim (a list, or a space/comma separated string) becomes a group. */
  readonly claim?: string | undefined;
  /** One group from several claims: `repo:{repository}:ref:{ref}`. */
  readonly template?: string | undefined;
  /** This fixed group name. */
  readonly group?: string | undefined;
  readonly when?: Readonly<Record<string, ExpectedClaim>> | undefined;
}

export interface ClaimMappingConfig {
  /** Claim holding the subject; `sub` when absent. */
  readonly subjectClaim?: string | undefined;
  /** Legacy single groups claim; `groups` when neither it nor `groups` mappings are configured. */
  readonly groupsClaim?: string | undefined;
  readonly groups?: readonly GroupMappingConfig[] | undefined;
}

type Produce = (claims: Readonly<Record<string, unknown>>) => string[];

interface CompiledMapping {
  readonly when: ClaimConditions | undefined;
  readonly produce: Produce;
}

/**
 * Turns an issuer's verified claims into a subject and groups. Compiled once per issuer; a mapping whose claims are
 * missing or not text produces nothing (fail closed), never an empty or partial group name.
 */
export class ClaimMapping {
  readonly #subjectClaim: string;
  readonly #mappings: readonly CompiledMapping[];

  constructor(config: ClaimMappingConfig) {
    this.#subjectClaim = config.subjectClaim ?? 'sub';
    const mappings: GroupMappingConfig[] = [...(config.groups ?? [])];
    const legacy = config.groupsClaim ?? (mappings.length === 0 ? 'groups' : undefined);
    // The legacy claim keeps its old reading: an exact key with dots wins over the path.
    const compiled: CompiledMapping[] =
      legacy === undefined
        ? []
        : [{ when: undefined, produce: (claims) => valuesOf(claimValue(claims, legacy), true) }];
    for (const mapping of mappings) compiled.push(compile(mapping));
    this.#mappings = compiled;
  }

  /** The subject claim as text, or undefined when it is missing or not a non-empty string. */
  subject(claims: Readonly<Record<string, unknown>>): string | undefined {
    const value = claimValue(claims, this.#subjectClaim);
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  }

  /** Groups, deduplicated and sorted. */
  groups(claims: Readonly<Record<string, unknown>>): string[] {
    const groups = new Set<string>();
    for (const mapping of this.#mappings) {
      if (mapping.when !== undefined && mapping.when.match(claims) === undefined) continue;
      for (const group of mapping.produce(claims)) groups.add(group);
    }
    return [...groups].sort();
  }
}

function compile(mapping: GroupMappingConfig): CompiledMapping {
  const when = mapping.when === undefined ? undefined : new ClaimConditions(mapping.when);
  if (mapping.claim !== undefined) {
    const path = parseClaimPath(mapping.claim);
    return { when, produce: (claims) => valuesOf(claimAt(claims, path)) };
  }
  if (mapping.template !== undefined) {
    const template: ClaimTemplate = parseClaimTemplate(mapping.template);
    return {
      when,
      produce: (claims) => {
        const group = renderClaimTemplate(template, claims);
        return group === undefined ? [] : [group];
      },
    };
  }
  if (mapping.group !== undefined) {
    const group = mapping.group;
    return { when, produce: () => [group] };
  }
  throw new Error('a group mapping needs one of claim, template or group');
}

/**
 * A list of scalars, or a space/comma separated string; anything else gives nothing. The legacy `groupsClaim` keeps
 * its old reading, strings only.
 */
function valuesOf(value: unknown, stringsOnly = false): string[] {
  const raw = typeof value === 'string' ? value.split(/[\s,]+/) : Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of raw) {
    const text = stringsOnly && typeof item !== 'string' ? undefined : claimText(item);
    if (text !== undefined) out.push(text);
  }
  return out;
}
