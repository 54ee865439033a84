import { GatehouseError } from '../../core/errors.js';
import { type ColumnRule, columnRuleFor } from '../../masking/column-rules.js';
import type { MaskCounts } from '../../masking/counts.js';
import { JsonMasker } from '../../masking/json-masker.js';
import type { MaskingPlan } from '../../masking/profile.js';
import type { Redactor } from '../../masking/redactor.js';
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
   * the row's values as text for the audit capture (binary values of non-text types as null). The row's scanned
   * text columns are masked together, in one scan (see `Redactor.maskEach`): rows are many short values, and a
   * scan per value would cost more in its fixed part than in reading the value.
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
    /** Where each value's bytes begin in `body` (after its length); its length, -1 for NULL. */
    const starts: number[] = new Array(count);
    const lengths: number[] = new Array(count);
    /** Each masked column's text before and after masking. */
    const texts: (string | undefined)[] = new Array(count);
    const masked: (string | undefined)[] = new Array(count);
    const scanned: number[] = [];
    const scannedTexts: string[] = [];
    let offset = 2;
    for (let i = 0; i < count; i++) {
      if (offset + 4 > body.length) throw maskingFailed('a DataRow is shorter than its values');
      const length = body.readInt32BE(offset);
      offset += 4;
      const start = offset;
      starts[i] = start;
      lengths[i] = length;
      if (length < 0) continue;
      if (offset + length > body.length) throw maskingFailed('a DataRow is shorter than its values');
      const action = shape.actions[i];
      const field = shape.fields[i] as FieldDescription;
      offset += length;
      if (action === undefined) continue;
      const text = body.toString('utf8', isBinaryJsonb(field) ? start + 1 : start, offset);
      texts[i] = text;
      if (action.kind === 'scan') {
        scanned.push(i);
        scannedTexts.push(text);
      } else masked[i] = this.maskValue(action, text, counts);
    }
    if (scanned.length > 0) {
      const results = (this.plan.redactor as Redactor).maskEach(scannedTexts, counts);
      for (let k = 0; k < scanned.length; k++) masked[scanned[k] as number] = results[k];
    }
    let changed = false;
    for (let i = 0; i < count; i++) if (masked[i] !== undefined && masked[i] !== texts[i]) changed = true;
    let values: (string | null)[] | undefined;
    if (wantValues) {
      values = new Array(count);
      for (let i = 0; i < count; i++) {
        const field = shape.fields[i] as FieldDescription;
        const start = starts[i] as number;
        const length = lengths[i] as number;
        if (length < 0) values[i] = null;
        else if (masked[i] !== undefined) values[i] = masked[i] as string;
        else
          values[i] =
            field.format === 0 || TEXT_TYPES.has(field.typeOid) ? body.toString('utf8', start, start + length) : null;
      }
    }
    if (!changed) return values ? { frame, values } : { frame };
    const out = encodeDataRow(body, starts, lengths, texts, masked, shape.fields);
    return values ? { frame: out, values } : { frame: out };
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

/**
 * The DataRow with its changed values replaced, in one buffer: the stretches of `body` between changed values (their
 * length words included) are copied as they are, a few copies a row rather than one per value, and the masked
 * values are written in UTF-8 (a binary jsonb value keeps its version byte).
 */
function encodeDataRow(
  body: Buffer,
  starts: readonly number[],
  lengths: readonly number[],
  texts: readonly (string | undefined)[],
  masked: readonly (string | undefined)[],
  fields: readonly FieldDescription[],
): Buffer {
  const count = starts.length;
  let size = 4 + body.length;
  for (let i = 0; i < count; i++) {
    if (masked[i] === undefined || masked[i] === texts[i]) continue;
    const prefix = isBinaryJsonb(fields[i] as FieldDescription) ? 1 : 0;
    size += prefix + Buffer.byteLength(masked[i] as string, 'utf8') - (lengths[i] as number);
  }
  const out = Buffer.allocUnsafe(size + 1);
  out[0] = BACKEND.DataRow;
  out.writeInt32BE(size, 1);
  let at = 5;
  /** Where in `body` the stretch not yet copied begins. */
  let copied = 0;
  for (let i = 0; i < count; i++) {
    if (masked[i] === undefined || masked[i] === texts[i]) continue;
    const start = starts[i] as number;
    // Everything up to this value's length word, unchanged.
    at += body.copy(out, at, copied, start - 4);
    const lengthAt = at;
    at += 4;
    if (isBinaryJsonb(fields[i] as FieldDescription)) out[at++] = body[start] as number;
    at += out.write(masked[i] as string, at, 'utf8');
    out.writeInt32BE(at - lengthAt - 4, lengthAt);
    copied = start + (lengths[i] as number);
  }
  body.copy(out, at, copied);
  return out;
}

function isBinaryJsonb(field: FieldDescription): boolean {
  return field.typeOid === JSONB_TYPE && field.format === 1;
}
