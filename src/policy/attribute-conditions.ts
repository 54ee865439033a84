import type { AttributeConditionConfig } from '../config/attribute-condition-schema.js';
import { type ClaimPath, claimAt, parseClaimPath } from '../core/claim-path.js';
import { hasDotDotSegment, wildcardMatcher } from './pattern.js';

/**
 * What a rule's conditions say of one operation's attributes. `unknown`: a value is there but of a type a test cannot
 * judge (a number test on a string): an allowing rule then does not apply, a denying one does (fail closed both ways).
 */
export type ConditionResult = 'holds' | 'fails' | 'unknown';

interface Compiled {
  readonly text: string;
  readonly path: ClaimPath;
  readonly config: AttributeConditionConfig;
  readonly matcher: ((value: string) => boolean) | undefined;
}

/** Conditions over named values of an operation (`{ path: { pattern: "/data/*" }, limit: { max: 100 } }`): all must hold. */
export class AttributeConditions {
  readonly #conditions: readonly Compiled[];

  constructor(conditions: Readonly<Record<string, AttributeConditionConfig>>) {
    this.#conditions = Object.entries(conditions).map(([text, config]) => ({
      text,
      path: parseClaimPath(text),
      config,
      matcher: config.pattern === undefined ? undefined : wildcardMatcher(config.pattern),
    }));
  }

  /** A short text of the conditions for selectors and explanations: `path ~ /data/*, limit <= 100`. */
  describe(): string {
    return this.#conditions.map((c) => describeOne(c)).join(', ');
  }

  check(attributes: Readonly<Record<string, unknown>> | undefined): ConditionResult {
    let result: ConditionResult = 'holds';
    for (const condition of this.#conditions) {
      const value = attributes === undefined ? undefined : claimAt(attributes, condition.path);
      const one = checkOne(condition, value);
      if (one === 'fails') return 'fails';
      if (one === 'unknown') result = 'unknown';
    }
    return result;
  }
}

function checkOne(condition: Compiled, value: unknown): ConditionResult {
  const { config, matcher } = condition;
  if (config.present !== undefined && (value !== undefined) !== config.present) return 'fails';
  if (value === undefined) {
    // Absent: only a presence test can hold; a value test on nothing fails (an allow-list needs the value).
    return config.equals === undefined &&
      config.oneOf === undefined &&
      matcher === undefined &&
      config.min === undefined &&
      config.max === undefined
      ? 'holds'
      : 'fails';
  }
  const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
  let unknown = false;
  if (config.equals !== undefined) {
    if (!scalar) unknown = true;
    else if (value !== config.equals) return 'fails';
  }
  if (config.oneOf !== undefined) {
    if (!scalar) unknown = true;
    else if (!config.oneOf.includes(value)) return 'fails';
  }
  if (matcher !== undefined) {
    // A dot-dot segment lets a server resolve `/data/out/../x` outside what the glob seems to hold: not judged.
    if (typeof value !== 'string' || hasDotDotSegment(value)) unknown = true;
    else if (!matcher(value)) return 'fails';
  }
  if (config.min !== undefined || config.max !== undefined) {
    if (typeof value !== 'number' || !Number.isFinite(value)) unknown = true;
    else if ((config.min !== undefined && value < config.min) || (config.max !== undefined && value > config.max))
      return 'fails';
  }
  return unknown ? 'unknown' : 'holds';
}

function describeOne({ text, config }: Compiled): string {
  const parts: string[] = [];
  if (config.present === true) parts.push(`${text} present`);
  if (config.present === false) parts.push(`${text} absent`);
  if (config.equals !== undefined) parts.push(`${text} = ${JSON.stringify(config.equals)}`);
  if (config.oneOf !== undefined) parts.push(`${text} in ${JSON.stringify(config.oneOf)}`);
  if (config.pattern !== undefined) parts.push(`${text} ~ ${config.pattern}`);
  if (config.min !== undefined) parts.push(`${text} >= ${config.min}`);
  if (config.max !== undefined) parts.push(`${text} <= ${config.max}`);
  return parts.join(', ');
}
