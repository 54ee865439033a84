import { wildcardMatcher } from '../core/wildcard.js';
import type { ColumnRuleConfig } from './config.js';
import type { Detector } from './detector.js';
import type { DetectorType } from './names.js';
import type { MaskStyle, ValueKind } from './styles.js';

/** A column of a SQL result, as the backend's catalog names it. */
export interface ColumnName {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
}

/** A column rule ready to match: masks a whole value in its style, as its kind. */
export interface ColumnRule {
  readonly pattern: string;
  readonly style: MaskStyle;
  readonly kind: ValueKind;
  matches(name: ColumnName): boolean;
}

/** Generic kind for columns whose rule names no detector type: label from the type, partial keeps one character. */
function genericKind(type: string | undefined): ValueKind {
  const name = type ?? 'column';
  return {
    type: name,
    label: type === undefined ? '[REDACTED]' : `[${type.toUpperCase()}]`,
    partial: (value) => `${value.slice(0, 1)}***`,
    normalize: (value) => value,
  };
}

/** Compiles `users.email`, `*.ssn`, `crm.*.phone` (schema-qualified when three parts) into matchers. */
export function compileColumnRules(
  rules: readonly ColumnRuleConfig[],
  detectors: Readonly<Record<DetectorType, Detector>>,
): ColumnRule[] {
  return rules.map((rule) => {
    const parts = rule.column.split('.');
    const [schema, table, column] = parts.length === 3 ? parts : ['*', ...parts];
    const schemaMatches = wildcardMatcher(schema as string);
    const tableMatches = wildcardMatcher(table as string);
    const columnMatches = wildcardMatcher(column as string);
    const known = rule.type !== undefined && Object.hasOwn(detectors, rule.type);
    return {
      pattern: rule.column,
      style: rule.style,
      kind: known ? detectors[rule.type as DetectorType] : genericKind(rule.type),
      matches: (name: ColumnName) =>
        schemaMatches(name.schema) && tableMatches(name.table) && columnMatches(name.column),
    };
  });
}

/** The first rule matching the column, or undefined. */
export function columnRuleFor(rules: readonly ColumnRule[], name: ColumnName | undefined): ColumnRule | undefined {
  if (name === undefined) return undefined;
  return rules.find((rule) => rule.matches(name));
}
