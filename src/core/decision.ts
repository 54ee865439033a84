/** What policy says about one operation. Reasons are stable codes so audit and `policy explain` can show them. */

const VERDICTS = ['allow', 'review', 'deny'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const REASONS = {
  'rule-allows': 'a policy rule allows this operation',
  'rule-reviews': 'a policy rule requires human approval for this operation',
  'rule-denies': 'a policy rule denies this operation',
  'dangerous-tag': 'the operation carries a dangerous risk tag that no rule names explicitly',
  'no-matching-rule': 'no policy rule grants this operation to the caller’s groups',
  'model-not-allowed': 'the model is not in the allowed list for the caller’s groups',
  'collection-not-allowed': 'the collection is not in the allowed list for the caller’s groups',
  'unknown-operation': 'the operation could not be classified',
  unclassifiable: 'the request could not be understood, so it is denied',
  'threshold-exceeded': 'a figure of the operation is over a limit of the rule that would allow it',
} as const;
export type ReasonCode = keyof typeof REASONS;

/** Names the rule that decided: `resources.llm.policy[0]`, or `default-deny` when none matched. */
export interface RuleRef {
  readonly id: string;
  readonly groups: readonly string[];
  /** The kind, tag or model selector that decided, e.g. `allow: read` or `review: delete-without-where`. */
  readonly selector: string;
  /** What of the caller the rule matched: `group deployers`, `subject repo:acme/*`, `claim ref=refs/heads/main`. */
  readonly matched?: readonly string[];
}

export interface Decision {
  readonly verdict: Verdict;
  readonly reason: ReasonCode;
  readonly rule: RuleRef;
  /** One sentence for the caller: never contains secrets or token contents. */
  readonly message: string;
  /** For `review`: who may approve. */
  readonly approverGroups?: readonly string[];
  /** Set when a rule's threshold decided: the figure, its value and the limit (shown to approvers, audited). */
  readonly threshold?: ThresholdExceeded;
  /** For `allow`: limits on the result the protocol enforces while relaying it (`maxResultRows`, `maxResultBytes`). */
  readonly resultLimits?: ResultLimits;
}

/** Figures judged before an operation runs (`Operation.estimates`), and the rule field limiting each. */
export const ESTIMATE_LIMITS = {
  cost: 'maxCost',
  rows: 'maxRows',
  usd: 'maxCostUsd',
  points: 'maxPoints',
} as const;
export type EstimateFigure = keyof typeof ESTIMATE_LIMITS;

/** A figure over a rule's limit. */
export interface ThresholdExceeded {
  readonly figure: EstimateFigure;
  /** The rule field: `maxRows`, `maxCostUsd`... */
  readonly limitName: (typeof ESTIMATE_LIMITS)[EstimateFigure];
  readonly value: number;
  readonly limit: number;
  /** What the rule does with an operation over the limit. */
  readonly over: 'review' | 'deny';
}

/** Limits on what a result may return. */
export interface ResultLimits {
  readonly rows?: number;
  readonly bytes?: number;
  /** Over the whole session's results (PostgreSQL): what a statement may return is what is left of these. */
  readonly sessionRows?: number;
  readonly sessionBytes?: number;
}
