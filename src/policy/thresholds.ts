/**
 * A rule's thresholds, compiled: limits on the figures a protocol measured or estimated for an operation
 * (`Operation.estimates`), and the limits on results the protocol enforces while it relays them.
 */
import type { PolicyRuleConfig } from '../config/schema.js';
import type { ThresholdAction } from '../config/threshold-schema.js';
import { ESTIMATE_LIMITS, type EstimateFigure, type ResultLimits, type ThresholdExceeded } from '../core/decision.js';
import type { OperationEstimates } from '../core/operation.js';

/** The result limits and the rule field setting each. */
const RESULT_LIMIT_FIELDS: readonly (readonly [keyof ResultLimits, keyof PolicyRuleConfig & `max${string}`])[] = [
  ['rows', 'maxResultRows'],
  ['bytes', 'maxResultBytes'],
  ['sessionRows', 'maxSessionResultRows'],
  ['sessionBytes', 'maxSessionResultBytes'],
];

interface Limit {
  readonly limit: number;
  readonly over: ThresholdAction;
}

type ThresholdConfig = number | { limit: number; over?: ThresholdAction | undefined } | undefined;

export class RuleThresholds {
  private readonly limits: ReadonlyMap<EstimateFigure, Limit>;
  readonly resultLimits: ResultLimits | undefined;

  constructor(config: PolicyRuleConfig) {
    const fallback = config.over ?? 'review';
    const limits = new Map<EstimateFigure, Limit>();
    for (const figure of Object.keys(ESTIMATE_LIMITS) as EstimateFigure[]) {
      const limit = compile(config[ESTIMATE_LIMITS[figure]], fallback);
      if (limit !== undefined) limits.set(figure, limit);
    }
    this.limits = limits;
    const resultLimits: { -readonly [K in keyof ResultLimits]: number } = {};
    for (const [key, field] of RESULT_LIMIT_FIELDS) {
      const limit = compile(config[field], fallback)?.limit;
      if (limit !== undefined) resultLimits[key] = limit;
    }
    this.resultLimits = Object.keys(resultLimits).length === 0 ? undefined : resultLimits;
  }

  /** The figures this rule asks to be measured (a protocol pays for EXPLAIN or a count only when a rule asks). */
  figures(): EstimateFigure[] {
    return [...this.limits.keys()];
  }

  /**
   * The figure most over its limit, deny before review; undefined when none is over. A figure the protocol could
   * not supply is not judged: the operation is then decided by its kind and tags alone.
   */
  exceeded(estimates: OperationEstimates | undefined): ThresholdExceeded | undefined {
    if (estimates === undefined) return undefined;
    let worst: ThresholdExceeded | undefined;
    for (const [figure, { limit, over }] of this.limits) {
      const value = estimates[figure];
      // Infinity (a cost that cannot be bounded) is over every limit; NaN is no figure.
      if (value === undefined || Number.isNaN(value) || value <= limit) continue;
      if (worst === undefined || (over === 'deny' && worst.over === 'review')) {
        worst = { figure, limitName: ESTIMATE_LIMITS[figure], value, limit, over };
      }
    }
    return worst;
  }
}

function compile(config: ThresholdConfig, fallback: ThresholdAction): Limit | undefined {
  if (config === undefined) return undefined;
  if (typeof config === 'number') return { limit: config, over: fallback };
  return { limit: config.limit, over: config.over ?? fallback };
}

/** `rows 12000 over maxRows 1000`, `usd 2.4 over maxCostUsd 2`. */
export function describeExceeded(exceeded: ThresholdExceeded): string {
  return `estimated ${exceeded.figure} ${formatFigure(exceeded.value)} over ${exceeded.limitName} ${formatFigure(exceeded.limit)}`;
}

function formatFigure(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return 'unbounded';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(9)));
}
