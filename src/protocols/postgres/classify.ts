// Contract for the SQL classifier (implementation pending): see the brief in the commit that fills it in.
import type { OperationKind, RiskTag } from '../../core/operation.js';

export interface ClassifiedStatement {
  readonly kind: OperationKind;
  readonly tags: readonly RiskTag[];
  /** Command tag style label: SELECT, INSERT, CREATE TABLE, DO... */
  readonly action: string;
  /** The statement's own text, cut from the message. */
  readonly text: string;
  /** Set when the parser rejected the SQL: kind is then `unknown`. */
  readonly error?: string;
}
