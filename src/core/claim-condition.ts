import { type ClaimPath, claimAt, claimText, parseClaimPath } from './claim-path.js';
import { wildcardMatcher } from './wildcard.js';

/** What a condition expects of one claim: a value, a `*` glob, or a list of them (any one matches). */
export type ExpectedClaim = string | number | boolean | readonly (string | number | boolean)[];

interface CompiledCondition {
  readonly text: string;
  readonly path: ClaimPath;
  readonly matchers: readonly ((value: string) => boolean)[];
}

/**
 * Conditions over claims (`{ repository_owner: acme, ref: "refs/heads/main" }`): every claim named must match. A
 * claim holding a list matches when any of its values does; a missing or non-scalar claim never matches.
 */
export class ClaimConditions {
  readonly #conditions: readonly CompiledCondition[];

  constructor(conditions: Readonly<Record<string, ExpectedClaim>>) {
    this.#conditions = Object.entries(conditions).map(([text, expected]) => ({
      text,
      path: parseClaimPath(text),
      matchers: (Array.isArray(expected) ? expected : [expected]).map((e) => wildcardMatcher(String(e))),
    }));
  }

  /** The conditions that held, as `path=value`, when all hold; otherwise undefined. */
  match(claims: Readonly<Record<string, unknown>>): string[] | undefined {
    const matched: string[] = [];
    for (const condition of this.#conditions) {
      const value = claimAt(claims, condition.path);
      const texts = (Array.isArray(value) ? value : [value]).map(claimText);
      const hit = texts.find((t) => t !== undefined && condition.matchers.some((m) => m(t)));
      if (hit === undefined) return undefined;
      matched.push(`${condition.text}=${hit}`);
    }
    return matched;
  }
}
