import { GatehouseError } from '../../core/errors.js';
import { type ColumnRule, columnRuleFor } from '../../masking/column-rules.js';
import type { MaskCounts } from '../../masking/counts.js';
import { JsonMasker } from '../../masking/json-masker.js';
import type { MaskingPlan } from '../../masking/profile.js';
import type { ColumnCatalog } from './column-catalog.js';
import type { FieldDescription } from './row-description.js';
import { BACKEND } from './wire/message-codes.js';

/** Built-in text types whose values are text in both formats: text, varchar, bpchar, name, unknown, xml, char. */
const TEXT_TYPES = new Set([25, 1043, 1042, 19, 705, 142, 18]);
/** Arrays of text types: masked in text format only (`{a@b.com,...}`; masks never hold `,{}"`). */
const TEXT_ARRAY_TYPES = new Set([1009, 1015, 1014, 1003]);
const JSON_TYPE = 114;
const JSONB_TYPE = 3802;

type ColumnAction =
  | { readonly kind: 'rule'; readonly rule: ColumnRule }
  | { readonly kind: 'scan' }
  | { readonly kind: 'json' };

/** What masking does to each column of one result: resolved once per RowDescription, applied to every DataRow. */
export interface RowShape {
  readonly fields: readonly FieldDescription[];
  readonly actions: readonly (ColumnAction | undefined)[];
  /** False when no column needs masking: rows pass through untouched. */
  readonly active: boolean;
}

/** A masking failure on the PostgreSQL path: the session ends with an error rather than relay the raw result. */
export function maskingFailed(reason: string): GatehouseError {
  return new GatehouseError('internal', 'gatehouse: the result could not be masked, so it was withheld', {
    details: { reason },
  });
}

/**
 * Masks PostgreSQL results for one session: column rules (matched through the catalog's table and column names),
 * content scanning of every text column, JSON columns value by value, and COPY TO STDOUT data in text or CSV.
 * DataRow and CopyData messages are rewritten with their new lengths; rows with nothing to mask keep their bytes.
 */
export class ResultMasking {
  constructor(
    readonly plan: MaskingPlan,
    private readonly catalog: ColumnCatalog,
  ) {}

  /** A catalog lookup to await before `shape` can name these columns, or undefined when none is needed. */
  lookup(fields: readonly FieldDescription[]): Promise<void> | undefined {
    if (this.plan.columns.length === 0) return undefined;
    const missing = this.catalog.missing(fields.map((f) => f.tableOid));
    return missing.length === 0 ? undefined : this.catalog.load(missing);
  }

  shape(fields: readonly FieldDescription[]): RowShape {
    const scan = this.plan.redactor !== undefined;
    const actions = fields.map((field): ColumnAction | undefined => {
      const name = field.tableOid === 0 ? undefined : this.catalog.name(field.tableOid, field.attribute);
      const rule = columnRuleFor(this.plan.columns, name);
      if (rule !== undefined) {
        if (field.format === 1 && !TEXT_TYPES.has(field.typeOid) && field.typeOid !== JSON_TYPE)
          throw maskingFailed(`column rule ${rule.pattern} on a binary-format value of type ${field.typeOid}`);
        return { kind: 'rule', rule };
      }
      if (!scan) return undefined;
      if (TEXT_TYPES.has(field.typeOid)) return { kind: 'scan' };
      if (field.format === 0 && TEXT_ARRAY_TYPES.has(field.typeOid)) return { kind: 'scan' };
      if (field.typeOid === JSON_TYPE || field.typeOid === JSONB_TYPE) return { kind: 'json' };
      return undefined;
    });
    return { fields, actions, active: actions.some((a) => a !== undefined) };
  }

  /**
   * Masks one DataRow body. Returns the frame to relay (the original bytes when nothing changed) and, when asked,
   * the row's values as text for the audit capture (binary values of non-text types as null).
   */
  row(
    frame: Buffer,
    body: Buffer,
    shape: RowShape,
    counts: MaskCounts,
    wantValues: boolean,
  ): { frame: Buffer; values?: (string | null)[] } {
    const count = body.readInt16BE(0);
    if (count !== shape.fields.length) throw maskingFailed('a DataRow does not match its RowDescription');
    const parts: (Buffer | null)[] = new Array(count);
    const values: (string | null)[] | undefined = wantValues ? new Array(count) : undefined;
    let changed = false;
    let offset = 2;
    for (let i = 0; i < count; i++) {
      const length = body.readInt32BE(offset);
      offset += 4;
      if (length < 0) {
        parts[i] = null;
        if (values) values[i] = null;
        continue;
      }
      const value = body.subarray(offset, offset + length);
      offset += length;
      const action = shape.actions[i];
      const field = shape.fields[i] as FieldDescription;
      if (action === undefined) {
        parts[i] = value;
        if (values) values[i] = field.format === 0 || TEXT_TYPES.has(field.typeOid) ? value.toString('utf8') : null;
        continue;
      }
      const binaryJsonb = field.typeOid === JSONB_TYPE && field.format === 1;
      const text = value.toString('utf8', binaryJsonb ? 1 : 0);
      const masked = this.maskValue(action, text, counts);
      if (values) values[i] = masked;
      if (masked === text) {
        parts[i] = value;
        continue;
      }
      changed = true;
      const encoded = Buffer.from(masked, 'utf8');
      parts[i] = binaryJsonb ? Buffer.concat([value.subarray(0, 1), encoded]) : encoded;
    }
    if (!changed) return values ? { frame, values } : { frame };
    return values ? { frame: encodeDataRow(parts), values } : { frame: encodeDataRow(parts) };
  }

  /** Masks one CopyData message of COPY TO STDOUT in text or CSV format (a message holds whole rows). */
  copyData(frame: Buffer, body: Buffer, counts: MaskCounts): Buffer {
    const redactor = this.plan.redactor;
    if (redactor === undefined) return frame;
    const text = body.toString('utf8');
    const masked = redactor.mask(text, counts);
    if (masked === text) return frame;
    const data = Buffer.from(masked, 'utf8');
    const header = Buffer.allocUnsafe(5);
    header[0] = BACKEND.CopyData;
    header.writeInt32BE(data.length + 4, 1);
    return Buffer.concat([header, data]);
  }

  private maskValue(action: ColumnAction, text: string, counts: MaskCounts): string {
    switch (action.kind) {
      case 'rule':
        return this.plan.maskValue(action.rule.kind, action.rule.style, text, counts);
      case 'scan':
        return (this.plan.redactor as NonNullable<MaskingPlan['redactor']>).mask(text, counts);
      case 'json': {
        const masker = new JsonMasker(this.plan.redactor as NonNullable<MaskingPlan['redactor']>, counts);
        return masker.push(text) + masker.end();
      }
    }
  }
}

function encodeDataRow(parts: readonly (Buffer | null)[]): Buffer {
  let size = 4 + 2;
  for (const part of parts) size += 4 + (part?.length ?? 0);
  const out = Buffer.allocUnsafe(size + 1);
  out[0] = BACKEND.DataRow;
  out.writeInt32BE(size, 1);
  out.writeInt16BE(parts.length, 5);
  let offset = 7;
  for (const part of parts) {
    if (part === null) {
      out.writeInt32BE(-1, offset);
      offset += 4;
      continue;
    }
    out.writeInt32BE(part.length, offset);
    part.copy(out, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}
