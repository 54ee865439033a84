/**
 * A rule's thresholds, compiled: limits on the figures a protocol measured or estimated for an operation
 * (`Operation.estimates`), and the limits on results the protocol enforces while it relays them.
 */
import type { PolicyRuleConfig } from '../config/schema.js';
import type { ThresholdAction } from '../config/threshold-schema.js';
import { ESTIMATE_LIMITS, type EstimateFigure, type ResultLimits, type ThresholdExceeded } from '../core/decision.js';
import type { OperationEstimates } from '../core/operation.js';

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
    const rows = compile(config.maxResultRows, fallback)?.limit;
    const bytes = compile(config.maxResultBytes, fallback)?.limit;
    this.resultLimits =
      rows === undefined && bytes === undefined
        ? undefined
        : { ...(rows === undefined ? {} : { rows }), ...(bytes === undefined ? {} : { bytes }) };
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
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(9)));
}
