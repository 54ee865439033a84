/**
 * A protocol-neutral description of one thing a caller asked a backend to do. Protocols produce these from wire
 * traffic; policy, approvals, quotas and audit consume them and never see a wire format.
 */

/** What an operation does to the backend. `session` is harmless session or transaction control (BEGIN, SET, SHOW). */
export const OPERATION_KINDS = ['read', 'write', 'ddl', 'admin', 'session'] as const;
export type KnownOperationKind = (typeof OPERATION_KINDS)[number];
/** `unknown` is never allowed: a protocol that cannot classify an operation says so and policy denies it. */
export type OperationKind = KnownOperationKind | 'unknown';

/**
 * Risk tags a classifier may attach. Policies name them next to kinds (`review: [drop]`).
 * `dangerous` tags are denied unless a policy rule names them explicitly; the others follow the kind's verdict.
 */
export const RISK_TAGS = {
  'delete-without-where': { dangerous: false },
  'update-without-where': { dangerous: false },
  drop: { dangerous: false },
  truncate: { dangerous: false },
  'data-modifying-cte': { dangerous: false },
  'select-into': { dangerous: false },
  'select-for-update': { dangerous: false },
  /** MERGE: which rows it touches depends on its join, which the classifier cannot bound. */
  merge: { dangerous: false },
  /** A function call the classifier cannot vouch for: not a built-in and not in the resource's `readFunctions`. */
  'unknown-function': { dangerous: false },
  /** A volatile built-in not reviewed as a plain read (nextval, setval...): it may change state. */
  'volatile-function': { dangerous: false },
  'large-object-write': { dangerous: false },
  /** NOTIFY or pg_notify: a message to other sessions. */
  notify: { dangerous: false },
  'advisory-lock': { dangerous: false },
  /** Deleting a whole vector collection (or a Pinecone namespace's every vector): reviewed unless a rule names it. */
  'collection-delete': { dangerous: false },
  'copy-program': { dangerous: true },
  'copy-server-file': { dangerous: true },
  'file-access': { dangerous: true },
  'remote-access': { dangerous: true },
  'superuser-function': { dangerous: true },
  'dynamic-sql': { dangerous: true },
  'privilege-change': { dangerous: true },
  'role-change': { dangerous: true },
  /**
   * A setting that changes how the server reads SQL text (client_encoding other than UTF8, standard_conforming_strings
   * off, backslash_quote on): the gateway would then read the bytes differently from the server.
   */
  'parser-setting': { dangerous: true },
} as const satisfies Record<string, { dangerous: boolean }>;
export type RiskTag = keyof typeof RISK_TAGS;

/** Tags that send an operation to review unless the deciding rule names them (allow, review or deny). */
export const REVIEWED_UNLESS_NAMED: ReadonlySet<RiskTag> = new Set<RiskTag>(['collection-delete']);

export function isRiskTag(value: string): value is RiskTag {
  return Object.hasOwn(RISK_TAGS, value);
}

export type ProtocolName = 'http' | 'postgres' | 'mcp';

export interface Operation {
  readonly protocol: ProtocolName;
  /** Name of the configured resource the operation targets. */
  readonly resource: string;
  readonly kind: OperationKind;
  readonly tags: readonly RiskTag[];
  /** Short label of what was asked: `POST /v1/chat/completions`, `DELETE`, `SELECT`. */
  readonly action: string;
  /** Full text for audit and review: the SQL statement, or method and path. */
  readonly text: string;
  /** Model name for inference calls, when the caller named one. */
  readonly model?: string;
  /** Collection (index) of a vector-store call, normalised as the upstream resolves it; policy rules name these. */
  readonly collection?: string;
  /** What the operation acts on by name, for rules with `targets`: an MCP tool or prompt name, a resource URI. */
  readonly target?: string;
  /**
   * Named values of the request (an MCP tool call's arguments), for rules with `conditions`. Never recorded whole by
   * policy: the protocol decides what of them the audit record keeps.
   */
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** Why the classifier gave a tag the text may not show (`WHERE true does not depend on documents' rows`). */
  readonly notes?: readonly string[];
  /**
   * Figures measured or estimated for this operation, for rules with thresholds (`maxCost`, `maxRows`,
   * `maxCostUsd`, `maxPoints`...). A protocol fills in what it can measure; a figure left out is not judged.
   */
  readonly estimates?: OperationEstimates;
  /** Why the operation could not be classified (unparsable SQL, unreadable body); policy denies such operations. */
  readonly unclassifiable?: string;
}

/**
 * Figures a protocol supplies for threshold rules; each is compared with the rule's limit (ESTIMATE_LIMITS in
 * decision.ts names it).
 */
export interface OperationEstimates {
  /** Planner's total cost (EXPLAIN), compared with `maxCost`. */
  readonly cost?: number;
  /** Planner's estimated rows (affected rows for UPDATE/DELETE), compared with `maxRows`. */
  readonly rows?: number;
  /** Worst-case price of an inference request in US dollars, compared with `maxCostUsd`. */
  readonly usd?: number;
  /** Vector-store points a delete or update by filter would touch, compared with `maxPoints`. */
  readonly points?: number;
}
