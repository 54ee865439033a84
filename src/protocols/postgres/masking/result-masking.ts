import { GatehouseError } from '../../../core/errors.js';
import { type ColumnRule, columnRuleFor } from '../../../masking/column-rules.js';
import type { MaskCounts } from '../../../masking/counts.js';
import type { Match } from '../../../masking/detector.js';
import type { MaskingPlan } from '../../../masking/profile.js';
import { type Redactor, Survey } from '../../../masking/redactor.js';
import { copyBytes, FrameBuffer, moveBytes, writeInt32, writeUtf8 } from '../wire/frame-buffer.js';
import { BACKEND } from '../wire/message-codes.js';
import type { ColumnCatalog } from './column-catalog.js';
import { binaryIsText, JSONB_TYPE, rowRelationOf, treatmentOf } from './column-types.js';
import { MASKED_VALUE_CACHE_ENTRIES, MaskedValueCache } from './masked-value-cache.js';
import type { FieldDescription } from './row-description.js';
import { maskJsonValue, maskLiteralValue } from './value-masking.js';

/** `RowShape.codes`: a text column scanned with its row's others, or a column masked value by value. */
const SCANNED = 1;
const MASKED = 2;
/** Where a DataRow's body begins in its frame (after the type byte and the length word). */
const BODY = 5;

/** The column-rule caches of each masking plan (compiled once per resource and group rule; see profile.ts). */
const planRuleCaches = new WeakMap<MaskingPlan, Map<ColumnRule, MaskedValueCache>>();

type ColumnAction =
  | { readonly kind: 'rule'; readonly rule: ColumnRule; readonly cache: MaskedValueCache }
  | { readonly kind: 'scan' }
  | { readonly kind: 'json' }
  /** A row or array literal, looked into value by value; `fieldRules`: by field, for a table's rows under rules. */
  | { readonly kind: 'literal'; readonly fieldRules: readonly (ColumnRule | undefined)[] | undefined };

/** What masking does to each column of one result: resolved once per RowDescription, applied to every DataRow. */
export interface RowShape {
  readonly fields: readonly FieldDescription[];
  readonly actions: readonly (ColumnAction | undefined)[];
  /** Each column's action as a number (`SCANNED`, `MASKED` or 0 for none), read for every value of every row. */
  readonly codes: Uint8Array;
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
  /** Each column rule's masked values (see `MaskedValueCache`). */
  private readonly ruleCaches: Map<ColumnRule, MaskedValueCache>;

  /**
   * `ruleCacheEntries`: the most values a column rule's cache holds. At the default, the caches are the plan's,
   * shared by every session masking with it (memory bounded by the plans, not the sessions, and kept warm); tests
   * ask for small caches of their own, to make them wrap.
   */
  constructor(
    readonly plan: MaskingPlan,
    private readonly catalog: ColumnCatalog,
    private readonly ruleCacheEntries = MASKED_VALUE_CACHE_ENTRIES,
  ) {
    let shared = ruleCacheEntries === MASKED_VALUE_CACHE_ENTRIES ? planRuleCaches.get(plan) : undefined;
    if (shared === undefined) {
      shared = new Map();
      if (ruleCacheEntries === MASKED_VALUE_CACHE_ENTRIES) planRuleCaches.set(plan, shared);
    }
    this.ruleCaches = shared;
  }

  /**
   * A catalog lookup to await before `shape` can name these columns (under column rules), know their extension
   * types, and the columns of the tables whose rows they are (`select t from items t`); undefined when none is needed.
   */
  lookup(fields: readonly FieldDescription[]): Promise<void> | undefined {
    const rules = this.plan.columns.length > 0;
    const tables = rules ? this.catalog.missing(fields.map((f) => f.tableOid)) : [];
    const types = this.catalog.missingTypes(fields.map((f) => f.typeOid));
    const info = (oid: number) => this.catalog.type(oid);
    const rowTables = () => (rules ? this.catalog.missing(fields.map((f) => rowRelationOf(f.typeOid, info))) : []);
    if (tables.length === 0 && types.length === 0 && rowTables().length === 0) return undefined;
    return (async () => {
      await Promise.all([
        tables.length === 0 ? undefined : this.catalog.load(tables),
        types.length === 0 ? undefined : this.catalog.loadTypes(types),
      ]);
      // The types say which tables' rows these are: their columns next.
      const more = rowTables();
      if (more.length > 0) await this.catalog.load(more);
    })();
  }

  /** The column rules of each field of a value of this type, when it is a table's row (or an array of them). */
  private fieldRules(typeOid: number): (ColumnRule | undefined)[] | undefined {
    if (this.plan.columns.length === 0) return undefined;
    const relation = rowRelationOf(typeOid, (oid) => this.catalog.type(oid));
    if (relation === 0) return undefined;
    const columns = this.catalog.columns(relation);
    if (columns === undefined) throw maskingFailed(`the columns of table ${relation} are not known`);
    const rules = columns.map((column) => columnRuleFor(this.plan.columns, column));
    return rules.some((rule) => rule !== undefined) ? rules : undefined;
  }

  /**
   * What masking does to each column: its column rule; else, under content scanning, by its type (column-types.ts):
   * JSON value by value, types that cannot hold text skipped, every other type scanned in its text form (composites,
   * arrays, extension types); a binary value that is not text refused (the session ends) rather than relayed raw.
   */
  shape(fields: readonly FieldDescription[]): RowShape {
    const scan = this.plan.redactor !== undefined;
    const typeInfo = (oid: number) => this.catalog.type(oid);
    const actions = fields.map((field): ColumnAction | undefined => {
      const name = field.tableOid === 0 ? undefined : this.catalog.name(field.tableOid, field.attribute);
      const rule = columnRuleFor(this.plan.columns, name);
      if (rule !== undefined) {
        if (field.format === 1 && !binaryIsText(field.typeOid, typeInfo))
          throw maskingFailed(`column rule ${rule.pattern} on a binary-format value of type ${field.typeOid}`);
        let cache = this.ruleCaches.get(rule);
        if (cache === undefined) {
          cache = new MaskedValueCache(this.ruleCacheEntries);
          this.ruleCaches.set(rule, cache);
        }
        return { kind: 'rule', rule, cache };
      }
      const fieldRules = this.fieldRules(field.typeOid);
      if (!scan && fieldRules === undefined) return undefined;
      const treatment = treatmentOf(field.typeOid, field.format, typeInfo);
      if (treatment === 'refuse')
        throw maskingFailed(
          `a binary-format value of type ${field.typeOid} cannot be scanned (column ${field.name}); ask for text format`,
        );
      if (treatment === 'skip') return undefined;
      return treatment === 'literal' ? { kind: 'literal', fieldRules } : { kind: treatment };
    });
    const codes = Uint8Array.from(actions, (a) => (a === undefined ? 0 : a.kind === 'scan' ? SCANNED : MASKED));
    return { fields, actions, codes, active: actions.some((a) => a !== undefined) };
  }

  /** Where each value of the current row begins in its frame (after its length word), and its length (-1: NULL). */
  private starts = new Int32Array(64);
  private lengths = new Int32Array(64);
  /**
   * The current row's masked values by column, undefined where unchanged; the first `changedCount` of `changed`
   * say where they are set (a typed array and a count: emptying an array for every row is a call into the runtime).
   */
  private masked: (string | undefined)[] = new Array(64).fill(undefined);
  private changed = new Int32Array(64);
  private changedCount = 0;
  /** The row's scanned values, copied side by side with line breaks between them (see `maskScanned`). */
  private joined = Buffer.allocUnsafeSlow(4096);
  /** Where each scanned value lies in the joined text, and its column. */
  private valueStarts = new Int32Array(64);
  private valueEnds = new Int32Array(64);
  private valueColumns = new Int32Array(64);
  /** What the row's scanned values that can hold anything hold (see `Redactor.survey`). */
  private readonly survey = new Survey();

  /** Where masked rows are written, for every result of the session (see `FrameBuffer`). */
  private readonly frames = new FrameBuffer();

  /**
   * Masks one DataRow (`frame`: the whole message, its type and length words included; values are read where they
   * lie in it) and appends the frame to relay to `out`: the original bytes when nothing changed, else
   * the row rewritten into the session's frame buffer. Returns, when asked, the row's values as text for the audit
   * capture (binary values of non-text types as null). The row's scanned text columns are masked together, in one
   * scan (see `maskScanned`): rows are many short values, and a scan per value would cost more in its fixed part
   * than in reading the value.
   */
  row(
    frame: Buffer,
    shape: RowShape,
    counts: MaskCounts,
    wantValues: boolean,
    out: Buffer[],
  ): (string | null)[] | undefined {
    const count = frame.length < BODY + 2 ? -1 : (frame[BODY] as number) * 256 + (frame[BODY + 1] as number);
    if (count !== shape.fields.length) throw maskingFailed('a DataRow does not match its RowDescription');
    if (this.starts.length < count) {
      this.starts = new Int32Array(count);
      this.lengths = new Int32Array(count);
      this.masked = new Array(count).fill(undefined);
    }
    const { starts, lengths, masked, changed } = this;
    // The last row's changes are cleared here rather than after it: a row that failed half-way leaves nothing behind.
    for (let k = 0; k < this.changedCount; k++) masked[changed[k] as number] = undefined;
    this.changedCount = 0;
    const codes = shape.codes;
    let firstScanned = -1;
    let lastScanned = -1;
    let scanned = 0;
    let offset = BODY + 2;
    for (let i = 0; i < count; i++) {
      if (offset + 4 > frame.length) throw maskingFailed('a DataRow is shorter than its values');
      // The length word, read by hand: this loop runs for every value of every row.
      const length =
        ((frame[offset] as number) << 24) |
        ((frame[offset + 1] as number) << 16) |
        ((frame[offset + 2] as number) << 8) |
        (frame[offset + 3] as number);
      offset += 4;
      starts[i] = offset;
      lengths[i] = length;
      if (length < 0) continue;
      if (offset + length > frame.length) throw maskingFailed('a DataRow is shorter than its values');
      const start = offset;
      offset += length;
      const code = codes[i];
      if (code === SCANNED) {
        if (firstScanned === -1) firstScanned = i;
        lastScanned = i;
        scanned++;
      } else if (code === MASKED) {
        const from = isBinaryJsonb(shape.fields[i] as FieldDescription) ? start + 1 : start;
        const action = shape.actions[i] as ColumnAction;
        const value =
          action.kind === 'rule'
            ? this.maskRuleValue(action.rule, action.cache, frame, from, offset, counts)
            : action.kind === 'literal'
              ? maskLiteralValue(this.plan, frame.toString('utf8', from, offset), action.fieldRules, counts)
              : maskJsonValue(this.plan, frame.toString('utf8', from, offset), counts);
        if (value !== undefined) {
          masked[i] = value;
          this.changedColumn(i);
        }
      }
    }
    if (scanned > 0) this.maskScanned(frame, codes, firstScanned, lastScanned, scanned, counts);
    if (this.changedCount === 0) this.frames.relay(frame, out);
    else this.writeRow(frame, shape.fields, out);
    return wantValues ? this.values(frame, shape, count) : undefined;
  }

  /** Puts the masked rows written to `out` in it: before `out` is read (see `FrameBuffer.seal`). */
  seal(out: Buffer[]): void {
    this.frames.seal(out);
  }

  private changedColumn(column: number): void {
    if (this.changedCount === this.changed.length) {
      const grown = new Int32Array(2 * this.changed.length);
      grown.set(this.changed);
      this.changed = grown;
    }
    this.changed[this.changedCount++] = column;
  }

  /** The current row's values as text for the audit capture (masked where they were). */
  private values(frame: Buffer, shape: RowShape, count: number): (string | null)[] {
    const { starts, lengths, masked } = this;
    const values: (string | null)[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const field = shape.fields[i] as FieldDescription;
      const start = starts[i] as number;
      const length = lengths[i] as number;
      if (length < 0) values[i] = null;
      else if (masked[i] !== undefined) values[i] = masked[i] as string;
      else if (shape.codes[i] !== 0)
        values[i] = frame.toString('utf8', isBinaryJsonb(field) ? start + 1 : start, start + length);
      else
        values[i] =
          field.format === 0 || binaryIsText(field.typeOid, (oid) => this.catalog.type(oid))
            ? frame.toString('utf8', start, start + length)
            : null;
    }
    return values;
  }

  /**
   * The DataRow with its changed values (`masked`, undefined where unchanged) replaced, written into the frame
   * buffer: the stretches of `frame` between changed values (their length words included) are copied as they are,
   * a few copies a row rather than one per value, and the masked values are written in UTF-8 (a binary jsonb value
   * keeps its version byte). Room is taken for the longest the values can be in UTF-8 (3 bytes a UTF-16 unit),
   * and the lengths are written after the values: no pass over them to measure first. The frame is first copied
   * whole to the end of that room and the row built from there, within one buffer: copies between two buffers each
   * need a view made (`Buffer.copy` too), which cost more than the copy. What is built never overtakes what is yet
   * to be read: it can only have grown by the room taken for the values written so far.
   */
  private writeRow(frame: Buffer, fields: readonly FieldDescription[], out: Buffer[]): void {
    const { starts, lengths, masked, changed } = this;
    const changes = this.changedCount;
    // The changed columns in order: a rule's changes are listed before those of the scan that follows.
    for (let a = 1; a < changes; a++) {
      const column = changed[a] as number;
      let b = a - 1;
      for (; b >= 0 && (changed[b] as number) > column; b--) changed[b + 1] = changed[b] as number;
      changed[b + 1] = column;
    }
    let room = frame.length;
    for (let k = 0; k < changes; k++) room += 1 + 3 * (masked[changed[k] as number] as string).length;
    const buffer = this.frames.room(room);
    const begin = this.frames.used;
    /** Where the frame's copy begins: `frame[k]` is at `source + k`. */
    const source = begin + room - frame.length;
    buffer.set(frame, source);
    buffer[begin] = BACKEND.DataRow;
    let at = begin + BODY;
    /** Where in `frame` the stretch not yet copied begins. */
    let copied = BODY;
    for (let k = 0; k < changes; k++) {
      const i = changed[k] as number;
      const value = masked[i] as string;
      const start = starts[i] as number;
      // Everything up to this value's length word, unchanged.
      at += moveBytes(buffer, source + copied, source + start - 4, at);
      const lengthAt = at;
      at += 4;
      if (isBinaryJsonb(fields[i] as FieldDescription)) buffer[at++] = frame[start] as number;
      at += writeUtf8(buffer, value, at);
      writeInt32(buffer, lengthAt, at - lengthAt - 4);
      copied = start + (lengths[i] as number);
    }
    at += moveBytes(buffer, source + copied, source + frame.length, at);
    writeInt32(buffer, begin + 1, at - begin - 1);
    this.frames.commit(at - begin, out);
  }

  /**
   * Masks the row's scanned text values (`scanned` non-NULL ones, in columns `first` to `last`), setting
   * `masked[i]` for those that change. Each value is surveyed where it lies (see `Redactor.survey`); those in
   * which something can be found are copied side by side into one buffer, a line break between each two, and one
   * string is decoded and scanned for them all (see `Redactor.findInValues`), rather than one per value and then a
   * joined one. The others (most values of a wide result: ids, hashes) are neither copied, decoded nor scanned:
   * masked alone, they are left as they are, and `findInValues` finds in each value what masking it alone finds.
   * Byte offsets are character offsets when the text has as many characters as the bytes it was decoded from
   * (ASCII; an invalid byte is one U+FFFD whether decoded alone or among its row's values); otherwise each value
   * is decoded on its own. Test `DataRow masking` holds the row against masking each value alone.
   */
  private maskScanned(
    frame: Buffer,
    codes: Uint8Array,
    first: number,
    last: number,
    scanned: number,
    counts: MaskCounts,
  ): void {
    const redactor = this.plan.redactor as Redactor;
    const { starts, lengths, masked } = this;
    if (this.valueStarts.length < scanned) {
      this.valueStarts = new Int32Array(scanned);
      this.valueEnds = new Int32Array(scanned);
      this.valueColumns = new Int32Array(scanned);
    }
    const { valueStarts, valueEnds, valueColumns, survey } = this;
    // The values that can hold anything, where they will lie in the joined text, and what they hold (`survey`).
    survey.reset();
    let k = 0;
    let size = 0;
    for (let i = first; i <= last; i++) {
      const length = lengths[i] as number;
      if (codes[i] !== SCANNED || length < 0) continue;
      const start = starts[i] as number;
      const seenBefore = survey.seen;
      const runBefore = survey.runTo;
      // Where the value lies in the joined text if it is kept: after a line break, unless it is the first.
      const at = k > 0 ? size + 1 : size;
      const seen = redactor.survey(frame, start, start + length, at, survey);
      if (survey.runTo === runBefore && !redactor.mayFindInClasses(seen)) {
        // Nothing can be found in it: it is left out, and what its survey added is taken back.
        survey.seen = seenBefore;
        continue;
      }
      size = at;
      valueStarts[k] = size;
      valueEnds[k] = size + length;
      valueColumns[k] = i;
      k++;
      size += length;
    }
    if (k === 0) return;
    const ascii = survey.ascii;
    if (this.joined.length < size) this.joined = Buffer.allocUnsafeSlow(Math.max(2 * this.joined.length, size));
    const joined = this.joined;
    for (let v = 0; v < k; v++) {
      const start = starts[valueColumns[v] as number] as number;
      const at = valueStarts[v] as number;
      copyBytes(frame, start, start + (valueEnds[v] as number) - at, joined, at);
      if (v > 0) joined[at - 1] = 10;
    }
    // ASCII decodes the same as latin1, which is quicker (no check for multi-byte characters).
    const text = joined.toString(ascii ? 'latin1' : 'utf8', 0, size);
    const matches =
      text.length === size
        ? redactor.findInValues(text, valueStarts, valueEnds, k, ascii ? survey : undefined)
        : undefined;
    if (matches === undefined) {
      // Multi-byte characters, or a find crossing from one value into the next: each value alone.
      for (let v = 0; v < k; v++) {
        const i = valueColumns[v] as number;
        const start = starts[i] as number;
        const value = frame.toString('utf8', start, start + (lengths[i] as number));
        const result = redactor.mask(value, counts);
        if (result !== value) {
          masked[i] = result;
          this.changedColumn(i);
        }
      }
      return;
    }
    let m = 0;
    for (let v = 0; v < k && m < matches.length; v++) {
      const valueEnd = valueEnds[v] as number;
      const firstMatch = m;
      while (m < matches.length && (matches[m] as Match).start < valueEnd) m++;
      if (m === firstMatch) continue;
      const valueStart = valueStarts[v] as number;
      const result = redactor.apply(text, matches.slice(firstMatch, m), counts, valueStart, valueEnd);
      if (result !== text.slice(valueStart, valueEnd)) {
        masked[valueColumns[v] as number] = result;
        this.changedColumn(valueColumns[v] as number);
      }
    }
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

  /**
   * A column rule's value `bytes[start, end)` masked, or undefined when masking leaves it as it is. A value met
   * before comes from the rule's cache, undecoded, and is counted as `plan.maskValue` counts it: once, as the
   * rule's kind (profile.ts); test `column rule cache` holds this against `plan.maskValue` alone.
   */
  private maskRuleValue(
    rule: ColumnRule,
    cache: MaskedValueCache,
    bytes: Buffer,
    start: number,
    end: number,
    counts: MaskCounts,
  ): string | undefined {
    const slot = cache.find(bytes, start, end);
    if (slot >= 0) {
      counts.add(rule.kind.type);
      return cache.result(slot);
    }
    const text = bytes.toString('utf8', start, end);
    const masked = this.plan.maskValue(rule.kind, rule.style, text, counts);
    const result = masked === text ? undefined : masked;
    cache.add(bytes, start, end, result);
    return result;
  }
}

function isBinaryJsonb(field: FieldDescription): boolean {
  return field.typeOid === JSONB_TYPE && field.format === 1;
}
