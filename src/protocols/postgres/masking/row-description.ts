import { FieldReader } from '../wire/field-reader.js';

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
