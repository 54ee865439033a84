import { FieldReader } from './wire/field-reader.js';

/**
 * RowDescription (`T`) fields, decoded: what masking needs to find a column's table and type.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ROWDESCRIPTION
 */
export interface FieldDescription {
  readonly name: string;
  /** OID of the table the column comes from, or 0 for an expression. */
  readonly tableOid: number;
  /** The column's attribute number in that table, or 0. */
  readonly attribute: number;
  readonly typeOid: number;
  /** 0 text, 1 binary. */
  readonly format: number;
}

export function decodeRowDescription(body: Buffer): FieldDescription[] {
  const reader = new FieldReader(body, 'RowDescription');
  const count = reader.int16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < count; i++) {
    const name = reader.cstring();
    const tableOid = reader.int32() >>> 0;
    const attribute = reader.int16();
    const typeOid = reader.int32() >>> 0;
    reader.int16(); // type size
    reader.int32(); // type modifier
    const format = reader.int16();
    fields.push({ name, tableOid, attribute, typeOid, format });
  }
  return fields;
}

/**
 * The result-column format codes of a Bind message (the fields the frontend decoder skips): none means all text,
 * one applies to every column, otherwise one per column.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BIND
 */
export function decodeBindResultFormats(body: Buffer): number[] {
  const reader = new FieldReader(body, 'Bind');
  reader.cstring();
  reader.cstring();
  const parameterFormats = reader.int16();
  for (let i = 0; i < parameterFormats; i++) reader.int16();
  const parameters = reader.int16();
  for (let i = 0; i < parameters; i++) {
    const length = reader.int32();
    if (length > 0) reader.bytes(length);
  }
  const count = reader.int16();
  const formats: number[] = [];
  for (let i = 0; i < count; i++) formats.push(reader.int16());
  return formats;
}

/** Applies a Bind's result formats to a statement's description (whose formats are not yet known). */
export function withFormats(fields: readonly FieldDescription[], formats: readonly number[]): FieldDescription[] {
  return fields.map((field, i) => ({
    ...field,
    format: formats.length === 0 ? 0 : formats.length === 1 ? (formats[0] as number) : (formats[i] ?? 0),
  }));
}
