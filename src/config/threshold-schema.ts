// Thresholds of a policy rule: limits on how big an operation may be before the rule's allow turns into review
// (or deny). Each is a number, or `{ limit, over }` to choose its own action.
import { z } from 'zod';

const THRESHOLD_ACTIONS = ['review', 'deny'] as const;
export type ThresholdAction = (typeof THRESHOLD_ACTIONS)[number];

const over = z.enum(THRESHOLD_ACTIONS);

function threshold(what: string, integer: boolean) {
  const limit = integer ? z.number().int().min(0) : z.number().min(0);
  return z
    .union(
      [
        limit,
        z.strictObject({
          limit: limit.describe('The limit.'),
          over: over.optional().describe('What happens over the limit (default: the rule’s `over`).'),
        }),
      ],
      {
        error: `expected a number (the limit) or { limit, over: review | deny }`,
      },
    )
    .optional()
    .describe(what);
}

/** The rule fields, spread into the policy rule schema. */
export const thresholdFields = {
  maxCost: threshold(
    "Planner's total cost (EXPLAIN, never ANALYZE, on the session's own connection, before the statement is decided) above which a SQL statement needs review. Measured for SELECT, INSERT, UPDATE, DELETE and MERGE, extended-protocol ones with their bound parameters; other statements are judged by kind.",
    false,
  ),
  maxRows: threshold(
    "Planner's estimated rows (rows affected for UPDATE/DELETE) above which a SQL statement needs review. Measured as maxCost is.",
    true,
  ),
  maxResultRows: threshold(
    'Rows one statement’s result may return (PostgreSQL: DataRow and COPY TO STDOUT data); past it the result is cut with an ErrorResponse (SQLSTATE 54000) and the backend statement cancelled (the rows already sent stay sent).',
    true,
  ),
  maxResultBytes: threshold(
    'Bytes a result may return. HTTP: a response declaring more is refused (403), one streaming past it is cut and the connection closed (the bytes already sent stay sent). PostgreSQL: bytes of one statement’s rows (DataRow and COPY data messages), cut as maxResultRows is.',
    true,
  ),
  maxSessionResultRows: threshold(
    'PostgreSQL: rows all results of the session may return together, counted over every statement (so a cursor or portal fetched in pieces is limited too); a statement allowed by this rule is cut as for maxResultRows once the session’s total crosses it.',
    true,
  ),
  maxSessionResultBytes: threshold(
    'PostgreSQL: bytes of rows all results of the session may return together, as maxSessionResultRows.',
    true,
  ),
  maxCostUsd: threshold(
    "Worst-case price of an inference request in US dollars (prompt tokens plus max_tokens, or the model's maximum, at the price table's rates) above which it needs review.",
    false,
  ),
  maxPoints: threshold(
    'Records a vector-store delete or update by filter may touch before it needs review: counted first (Qdrant count API, Chroma get of ids, Pinecone describe_index_stats with the filter) with the caller’s tenant filter; a store that cannot count (a serverless Pinecone index) is over the limit.',
    true,
  ),
  over: over
    .optional()
    .describe(
      'What happens to an operation over one of this rule’s thresholds that names no `over` of its own (default review).',
    ),
};
