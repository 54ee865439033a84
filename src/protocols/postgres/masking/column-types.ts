/**
 * Which result columns content scanning may skip, by type: an allow-list of types whose values cannot hold text
 * (numbers, booleans, dates and times, uuids, vectors...). Every other type is scanned in its text form: text and its
 * kin, composites and whole rows (`select t from items t`), arrays, ranges, tsvector, extension types such as citext,
 * and types the gateway has never heard of. A deny-list of text types would let each new type through raw.
 * OIDs: https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat
 */

/** Types created by initdb have OIDs below this; extension and user types are looked up in the catalog. */
export const FIRST_NORMAL_OID = 16384;

/** Built-in types whose values cannot carry text, in either format, and arrays of them. */
const SKIPPABLE_BUILTIN: ReadonlySet<number> = new Set([
  16, // bool
  20, // int8
  21, // int2
  23, // int4
  26, // oid
  700, // float4
  701, // float8
  790, // money
  1700, // numeric
  1082, // date
  1083, // time
  1266, // timetz
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
  2950, // uuid
  1560, // bit
  1562, // varbit
  3220, // pg_lsn
  28, // xid
  5069, // xid8
  29, // cid
  27, // tid
  3904, // int4range
  3906, // numrange
  3908, // tsrange
  3910, // tstzrange
  3912, // daterange
  3926, // int8range
  4451, // int4multirange
  4532, // nummultirange
  4533, // tsmultirange
  4534, // tstzmultirange
  4535, // datemultirange
  4536, // int8multirange
  600, // point
  601, // lseg
  602, // path
  603, // box
  604, // polygon
  628, // line
  718, // circle
  // Arrays of the above.
  1017,
  1018,
  1019,
  1020,
  1027,
  629,
  719,
  3905,
  3907,
  3909,
  3911,
  3913,
  3927,
  6150,
  6151,
  6152,
  6153,
  6155,
  6157,
  1000,
  1016,
  1005,
  1007,
  1028,
  1021,
  1022,
  791,
  1231,
  1182,
  1183,
  1270,
  1115,
  1185,
  1187,
  2951,
  1561,
  1563,
  /**
   * bytea: its text form is hex (`\x6d61...`), which no detector reads, and SQL can re-encode any value anyway
   * (`encode`, `translate`, `reverse`): masking covers values as stored and columns by name, not values an
   * expression disguised. Its binary form is opaque bytes, rewritten by no mask.
   */
  17,
  1001, // bytea[]
]);

/** Built-in types whose binary format is their text (UTF-8): text, varchar, bpchar, name, unknown, xml, char, json. */
const BINARY_IS_TEXT_BUILTIN: ReadonlySet<number> = new Set([25, 1043, 1042, 19, 705, 142, 18, 114]);

/** Extension types whose values are numbers only: pgvector's. */
const SKIPPABLE_EXTENSION_NAMES: ReadonlySet<string> = new Set(['vector', 'halfvec', 'sparsevec']);
/** Extension types whose binary format is their text (citext sends as text does). */
const BINARY_IS_TEXT_EXTENSION_NAMES: ReadonlySet<string> = new Set(['citext']);
/**
 * `pg_type.typcategory` of extension and user types that cannot hold text: numeric, boolean, date/time. A domain
 * over int4 is one; citext (S), composites (C), enums (E), ranges (R) and user-defined (U) are not.
 */
const SKIPPABLE_CATEGORIES: ReadonlySet<string> = new Set(['N', 'B', 'D']);

export const JSON_TYPE = 114;
export const JSONB_TYPE = 3802;

/** What the catalog says of an extension or user type (`pg_type`), and of its array element when it is an array. */
export interface TypeInfo {
  readonly name: string;
  readonly category: string;
  /** For an array type: its element type's OID, else 0. */
  readonly element: number;
  /** For a table's row type: the table's OID (`typrelid`), else 0. */
  readonly relation: number;
}

/**
 * How masking treats a value of one column: `scan` text scanned as it is (with its row's others); `literal` any other
 * type's text form, whose rows and arrays are looked into value by value (row-literal.ts); `refuse` a binary value
 * that cannot be read as text.
 */
export type TypeTreatment = 'skip' | 'scan' | 'literal' | 'json' | 'refuse';

/**
 * The treatment of a column of type `typeOid` in `format` (0 text, 1 binary). `info` looks extension and user
 * types up (undefined when not known: such a type is scanned, and refused in binary).
 */
export function treatmentOf(
  typeOid: number,
  format: number,
  info: (oid: number) => TypeInfo | undefined,
): TypeTreatment {
  if (isSkippable(typeOid, info, 0)) return 'skip';
  if (typeOid === JSON_TYPE || typeOid === JSONB_TYPE) return 'json';
  if (binaryIsText(typeOid, info)) return 'scan';
  return format === 0 ? 'literal' : 'refuse';
}

/**
 * The table whose columns the fields of a value of this type are: a table's row type, or an array of one
 * (`select t from items t`, `select array_agg(t) from items t`); 0 for anything else (`row(...)` is a record).
 */
export function rowRelationOf(typeOid: number, info: (oid: number) => TypeInfo | undefined): number {
  // System catalogs' row types are built in: no column rule names a system table.
  if (typeOid < FIRST_NORMAL_OID) return 0;
  const type = info(typeOid);
  if (type === undefined) return 0;
  if (type.relation !== 0) return type.relation;
  return type.element === 0 ? 0 : (info(type.element)?.relation ?? 0);
}

/** True when a binary value of this type is its text: it can be scanned as it is. */
export function binaryIsText(typeOid: number, info: (oid: number) => TypeInfo | undefined): boolean {
  if (typeOid < FIRST_NORMAL_OID) return BINARY_IS_TEXT_BUILTIN.has(typeOid);
  const type = info(typeOid);
  return type !== undefined && BINARY_IS_TEXT_EXTENSION_NAMES.has(type.name);
}

function isSkippable(typeOid: number, info: (oid: number) => TypeInfo | undefined, depth: number): boolean {
  if (typeOid < FIRST_NORMAL_OID) return SKIPPABLE_BUILTIN.has(typeOid);
  const type = info(typeOid);
  if (type === undefined) return false;
  if (SKIPPABLE_EXTENSION_NAMES.has(type.name) || SKIPPABLE_CATEGORIES.has(type.category)) return true;
  // An array of a skippable type (one level: arrays of arrays are the same type in PostgreSQL).
  return type.category === 'A' && type.element !== 0 && depth === 0 && isSkippable(type.element, info, 1);
}
