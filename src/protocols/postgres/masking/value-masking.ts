import { GatehouseError } from '../../../core/errors.js';
import type { ColumnRule } from '../../../masking/column-rules.js';
import type { MaskCounts } from '../../../masking/counts.js';
import { JsonMasker } from '../../../masking/json-masker.js';
import type { MaskingPlan } from '../../../masking/profile.js';
import type { Redactor } from '../../../masking/redactor.js';
import { type LiteralMasking, maskLiteral } from '../../../masking/row-literal.js';

/**
 * A value of a type other than text (a row, an array, tsvector, inet...) masked, or undefined when unchanged: rows
 * and arrays value by value, unescaped (row-literal.ts), the fields of a table's rows by their column rules
 * (`fieldRules`, by position); anything else scanned as text. A table's row under column rules that does not parse
 * is refused (an `internal` error: the session ends) rather than relayed.
 */
export function maskLiteralValue(
  plan: MaskingPlan,
  text: string,
  fieldRules: readonly (ColumnRule | undefined)[] | undefined,
  counts: MaskCounts,
): string | undefined {
  const redactor = plan.redactor;
  const maskText = (value: string) => (redactor === undefined ? value : redactor.mask(value, counts));
  const masking: LiteralMasking = {
    texts: (values) => (redactor === undefined ? values : redactor.maskEach(values, counts)),
  };
  if (fieldRules !== undefined)
    masking.field = (index, value) => {
      const rule = fieldRules[index];
      return rule === undefined ? undefined : plan.maskValue(rule.kind, rule.style, value, counts);
    };
  let masked = maskLiteral(text, masking);
  if (masked === undefined) {
    if (fieldRules !== undefined)
      throw new GatehouseError('internal', 'gatehouse: the result could not be masked, so it was withheld', {
        details: { reason: 'a row value under column rules could not be read' },
      });
    masked = maskText(text);
  }
  return masked === text ? undefined : masked;
}

/** A JSON value masked value by value, or undefined when unchanged. */
export function maskJsonValue(plan: MaskingPlan, text: string, counts: MaskCounts): string | undefined {
  const masker = new JsonMasker(plan.redactor as Redactor, counts);
  const masked = masker.push(text) + masker.end();
  return masked === text ? undefined : masked;
}
