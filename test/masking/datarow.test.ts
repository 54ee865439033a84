import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MaskCounts } from '../../src/masking/counts.js';
import { JsonMasker } from '../../src/masking/json-masker.js';
import { type MaskingPlan, resolveMasking } from '../../src/masking/profile.js';
import type { Redactor } from '../../src/masking/redactor.js';
import type { ColumnCatalog } from '../../src/protocols/postgres/masking/column-catalog.js';
import { ResultMasking } from '../../src/protocols/postgres/masking/result-masking.js';
import type { FieldDescription } from '../../src/protocols/postgres/masking/row-description.js';
import { FrameBuffer } from '../../src/protocols/postgres/wire/frame-buffer.js';
import { decodeRow, encodeRow } from '../support/data-row.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * DataRow masking, value by value against the plain calls (each text column masked on its own, JSON through
 * JsonMasker, the column rule through the plan): the row's text columns are scanned together and the row is
 * rebuilt in one buffer, which must change nothing else (NULLs, untouched and binary values, UTF-8 lengths).
 */

const config = {
  requests: true,
  exempt: [],
  groups: [],
  styles: { email: 'partial' },
  columns: [{ column: 'people.email', type: 'email', style: 'tokenize' }],
  tokenKey: 'datarow-test-token-key-0123456789',
} as never;
const plan = (resolveMasking(config, []) as { mode: 'mask'; plan: MaskingPlan }).plan;
const redactor = plan.redactor as Redactor;
const catalog = {
  name: (_table: number, attribute: number) => ({
    schema: 'public',
    table: 'people',
    column: attribute === 2 ? 'email' : `c${attribute}`,
  }),
  missing: () => [],
  type: () => undefined,
  missingTypes: () => [],
  columns: () => undefined,
} as unknown as ColumnCatalog;

const field = (attribute: number, typeOid: number, format = 0): FieldDescription => ({
  name: `c${attribute}`,
  tableOid: 7,
  attribute,
  typeOid,
  format,
});
const FIELDS = [
  field(1, 23), // int4: not masked
  field(2, 25), // text: the tokenize rule
  field(3, 25), // text: scanned
  field(4, 1043), // varchar: scanned
  field(5, 25), // text: scanned, often NULL
  field(6, 3802, 1), // jsonb in binary format: a version byte, then JSON
  field(7, 17, 1), // bytea in binary format: not masked
  field(8, 25), // text: scanned
];

/** A row's values as masking each scanned value alone gives them (`scanned` says which), counted in `counts`. */
function maskedAlone<V extends Buffer | null>(
  redactor: Redactor,
  values: readonly V[],
  scanned: (value: V, column: number) => boolean,
  counts: MaskCounts,
): (Buffer | null)[] {
  return values.map((value, i) => {
    if (value === null || !scanned(value, i)) return value;
    const text = value.toString('utf8');
    const result = redactor.mask(text, counts);
    return result === text ? value : Buffer.from(result);
  });
}

/** The frames in a list of buffers as the client reads them (the relay's `out`, joined). */
function framesOf(out: readonly Buffer[]): Buffer[] {
  const all = Buffer.concat(out);
  const frames: Buffer[] = [];
  for (let at = 0; at < all.length; at += all.readInt32BE(at + 1) + 1)
    frames.push(all.subarray(at, at + all.readInt32BE(at + 1) + 1));
  return frames;
}

/** Another message between rows (a CommandComplete): rows after it cannot extend the view before it. */
const OTHER_FRAME = Buffer.from([0x43, 0, 0, 0, 13, ...Buffer.from('SELECT 1'), 0]);

/**
 * Lists of frames as the relay builds them for the backend's chunks: rows masked into a shared list, a chunk of
 * 1 to 40 rows each, now and then another message between them; `check` runs on each row's frame as the client
 * reads it, once the list is sealed. Every list is read again at the end: bytes handed out must never be written
 * over by later rows.
 */
function chunked(
  masking: ResultMasking,
  rows: number,
  next: () => number,
  mask: (row: number, out: Buffer[]) => void,
  check: (row: number, frame: Buffer) => void,
): void {
  const lists: { out: Buffer[]; rows: number[] }[] = [];
  const checkList = ({ out, rows }: { out: Buffer[]; rows: number[] }) => {
    const frames = framesOf(out).filter((frame) => !frame.equals(OTHER_FRAME));
    assert.equal(frames.length, rows.length);
    for (const [k, frame] of frames.entries()) check(rows[k] as number, frame);
  };
  for (let row = 0; row < rows; ) {
    const list = { out: [] as Buffer[], rows: [] as number[] };
    for (let size = 1 + Math.floor(next() * 40); size > 0 && row < rows; size--, row++) {
      if (next() < 0.05) list.out.push(OTHER_FRAME);
      mask(row, list.out);
      list.rows.push(row);
    }
    masking.seal(list.out);
    checkList(list);
    lists.push(list);
  }
  for (const list of lists) checkList(list);
}

const TEXTS = [
  'nothing to see here',
  'mail mary.jones@example.com now',
  'café ☕ call +1 415 555 2671',
  '4242 4242 4242 4242',
  'ssn 123-45-6789 and ip 10.1.2.3',
  'ends in a key -----BEGIN RSA PRIVATE KEY-----\nMIIE',
  'abc\n-----END RSA PRIVATE KEY----- starts with its end',
  'password=hunter2x',
  'é',
  '',
];

describe('DataRow masking', () => {
  const masking = new ResultMasking(plan, catalog);
  const shape = masking.shape(FIELDS);

  it('masks each value as the plain calls do and leaves the others byte for byte', () => {
    const inputs: { values: (Buffer | null)[]; json: string }[] = [];
    const captured: ((string | null)[] | undefined)[] = [];
    const countsOf: MaskCounts[] = [];
    chunked(
      masking,
      400,
      seededRandom(7),
      (row, out) => {
        // Neighbouring scanned columns get neighbouring texts on odd rows: a private-key block split across two.
        const pick = (k: number) => TEXTS[(row * 7 + k * (row % 2 === 0 ? 3 : 1)) % TEXTS.length] as string;
        const json = JSON.stringify({ note: pick(5), n: row });
        const values: (Buffer | null)[] = [
          Buffer.from(String(row)),
          Buffer.from(`user${row}@Example.com`),
          Buffer.from(pick(1)),
          Buffer.from(pick(2)),
          row % 3 === 0 ? null : Buffer.from(pick(3)),
          Buffer.concat([Buffer.from([1]), Buffer.from(json)]),
          Buffer.from([0, 255, 10, 64]),
          Buffer.from(pick(4)),
        ];
        inputs[row] = { values, json };
        const frame = encodeRow(values);
        countsOf[row] = new MaskCounts();
        captured[row] = masking.row(frame, shape, countsOf[row], true, out);
      },
      (row, frame) => {
        const { values, json } = inputs[row] as { values: (Buffer | null)[]; json: string };
        const expectedCounts = new MaskCounts();
        const text = (value: Buffer | null) =>
          value === null ? null : Buffer.from(redactor.mask(value.toString('utf8'), expectedCounts));
        const jsonMasker = new JsonMasker(redactor, expectedCounts);
        const expected: (Buffer | null)[] = [
          values[0] as Buffer,
          Buffer.from(
            plan.maskValue(
              shape.actions[1]?.kind === 'rule' ? shape.actions[1].rule.kind : assert.fail('a rule column'),
              'tokenize',
              (values[1] as Buffer).toString('utf8'),
              expectedCounts,
            ),
          ),
          text(values[2] as Buffer),
          text(values[3] as Buffer),
          text(values[4] as Buffer | null),
          Buffer.concat([Buffer.from([1]), Buffer.from(jsonMasker.push(json) + jsonMasker.end())]),
          values[6] as Buffer,
          text(values[7] as Buffer),
        ];
        assert.deepEqual(decodeRow(frame), expected, `row ${row}`);
        assert.deepEqual(countsOf[row]?.toRecord(), expectedCounts.toRecord());
        assert.deepEqual(
          captured[row],
          expected.map((value, i) =>
            value === null ? null : i === 6 ? null : i === 5 ? value.subarray(1).toString('utf8') : value.toString(),
          ),
        );
      },
    );
  });

  it('masks generated rows as each value masked alone: columns between, NULLs, line breaks, multi-byte text', () => {
    // Scanned text columns with other columns, NULLs and empty values between them: the row's scanned values are
    // read as one text, with line breaks where the rest lies (or one by one, when they are not all ASCII).
    const fields = [
      field(1, 25),
      field(2, 23),
      field(3, 1043),
      field(4, 25),
      field(5, 17, 1),
      field(6, 25),
      field(7, 25),
      field(8, 20),
      field(9, 25),
    ];
    const masking = new ResultMasking({ ...plan, columns: [] }, catalog);
    const rowShape = masking.shape(fields);
    const next = seededRandom(29);
    const pieces = [
      ...TEXTS,
      'd41d8cd98f00b204e9800998ecf8427e',
      '4242',
      ' 4242 ',
      '415',
      '555-2671',
      '\n',
      ' ',
      '-----BEGIN RSA PRIVATE KEY-----\n',
      '-----END RSA PRIVATE KEY-----',
      'mary@',
      'example.com',
      'GB82 WEST',
      '1234 5698 7654 32',
      '10.0.0.',
      '1',
      'AKIAIOSFODNN7EXAMPLE',
    ];
    const bytes = [Buffer.from([0xc3]), Buffer.from([0x80]), Buffer.from('€'), Buffer.from('😀')];
    let changedRows = 0;
    const inputs: { values: (Buffer | null)[]; frame: Buffer; out: Buffer[]; counts: MaskCounts }[] = [];
    chunked(
      masking,
      3000,
      next,
      (row, out) => {
        const values = fields.map((f): Buffer | null => {
          if (next() < 0.15) return null;
          if (f.typeOid === 23 || f.typeOid === 20) return Buffer.from(String(Math.floor(next() * 1e12)));
          if (f.typeOid === 17) return Buffer.from([10, 64, 49, 50, 51, 52, 53, 54, 55, 56, 57, 48, 49]);
          const parts: Buffer[] = [];
          const count = Math.floor(next() * 6);
          for (let k = 0; k < count; k++)
            parts.push(
              next() < 0.03
                ? (bytes[Math.floor(next() * bytes.length)] as Buffer)
                : Buffer.from(pieces[Math.floor(next() * pieces.length)] as string),
            );
          return Buffer.concat(parts);
        });
        const frame = encodeRow(values);
        const counts = new MaskCounts();
        const length = out.length;
        assert.equal(masking.row(frame, rowShape, counts, false, out), undefined);
        inputs[row] = { values, frame, out: out.slice(length), counts };
      },
      (row, frame) => {
        const input = inputs[row] as (typeof inputs)[number];
        const expectedCounts = new MaskCounts();
        const expected = maskedAlone(
          redactor,
          input.values,
          (value, i) => value !== null && rowShape.actions[i] !== undefined,
          expectedCounts,
        );
        assert.deepEqual(decodeRow(frame), expected, `row ${row}`);
        assert.deepEqual(input.counts.toRecord(), expectedCounts.toRecord(), `row ${row}`);
        if (!expectedCounts.empty) changedRows++;
        // A row relayed as it came is the very frame, unless it was copied in after a masked one.
        else if (input.out.length === 1 && input.out[0] !== frame) assert.equal(input.out[0], input.frame);
      },
    );
    assert.ok(changedRows > 300, 'rows with something masked were compared');
  });

  it('masks wide rows of hex ids as each value masked alone: the rows with nothing to find are not scanned', () => {
    // Most rows hold only hex and digit runs, which the survey rules out (see `Redactor.survey`); now and then a
    // value begins with a long number or holds a value, and the row must be masked all the same.
    const fields = [field(1, 23), ...Array.from({ length: 10 }, (_, i) => field(i + 2, 25))];
    const masking = new ResultMasking({ ...plan, columns: [] }, catalog);
    const rowShape = masking.shape(fields);
    const next = seededRandom(41);
    const values = [
      '4242 4242 4242 4242',
      '4242424242424242',
      '+298312345',
      ' 415 555 2671',
      '123-45-6789',
      'mary@example.com',
      '10.1.2.3',
    ];
    const hex = () => {
      if (next() < 0.05) return values[Math.floor(next() * values.length)] as string;
      let value = '';
      for (let i = 0; i < 32; i++) value += '0123456789abcdef'[Math.floor(next() * (next() < 0.2 ? 10 : 16))];
      if (next() < 0.05) value = (values[Math.floor(next() * values.length)] as string) + value;
      if (next() < 0.05) value += values[Math.floor(next() * values.length)] as string;
      return value;
    };
    let changedRows = 0;
    let unchangedRows = 0;
    const inputs: { values: Buffer[]; frame: Buffer; out: Buffer[]; counts: MaskCounts }[] = [];
    chunked(
      masking,
      2000,
      next,
      (row, out) => {
        const rowValues = fields.map((f) => Buffer.from(f.typeOid === 23 ? String(row) : hex()));
        const frame = encodeRow(rowValues);
        const counts = new MaskCounts();
        const length = out.length;
        masking.row(frame, rowShape, counts, false, out);
        inputs[row] = { values: rowValues, frame, out: out.slice(length), counts };
      },
      (row, frame) => {
        const input = inputs[row] as (typeof inputs)[number];
        const expectedCounts = new MaskCounts();
        const expected = maskedAlone(redactor, input.values, (_value, i) => i > 0, expectedCounts);
        assert.deepEqual(decodeRow(frame), expected, `row ${row}`);
        assert.deepEqual(input.counts.toRecord(), expectedCounts.toRecord(), `row ${row}`);
        if (!expectedCounts.empty) changedRows++;
        else if (input.out.length === 1 && input.out[0] !== frame) {
          assert.equal(input.out[0], input.frame);
          unchangedRows++;
        }
      },
    );
    assert.ok(changedRows > 300, 'rows with something masked were compared');
    assert.ok(unchangedRows > 100, 'rows relayed as they came were compared');
  });

  it('writes rows larger than a frame buffer whole, between smaller ones', () => {
    const fields = [field(1, 23), field(2, 25), field(3, 25)];
    const masking = new ResultMasking({ ...plan, columns: [] }, catalog);
    const rowShape = masking.shape(fields);
    const sizes = [10, 200_000, 30, 131_000, 131_072, 5, 400_000, 50];
    chunked(
      masking,
      sizes.length * 3,
      seededRandom(3),
      (row, out) => {
        const filler = 'x '.repeat((sizes[row % sizes.length] as number) / 2);
        const frame = encodeRow([Buffer.from(String(row)), Buffer.from(`${filler}mary${row}@example.com`), null]);
        masking.row(frame, rowShape, new MaskCounts(), false, out);
      },
      (row, frame) => {
        const filler = 'x '.repeat((sizes[row % sizes.length] as number) / 2);
        const masked = `${filler}m***@example.com`;
        assert.deepEqual(decodeRow(frame), [Buffer.from(String(row)), Buffer.from(masked), null]);
      },
    );
  });

  it('relays the very frame when nothing in the row is masked', () => {
    const noRules = new ResultMasking({ ...plan, columns: [] }, catalog);
    const frame = encodeRow([Buffer.from('1'), Buffer.from('plain'), Buffer.from('text'), null]);
    const fields = FIELDS.slice(0, 4);
    const out: Buffer[] = [];
    noRules.row(frame, noRules.shape(fields), new MaskCounts(), false, out);
    assert.equal(out.length, 1);
    assert.equal(out[0], frame);
  });

  it('frame buffer: a run stands as one placeholder until sealed, and frames left unsealed are refused', () => {
    const frames = new FrameBuffer();
    const write = (text: string, out: Buffer[]) => {
      const buffer = frames.room(text.length);
      buffer.write(text, frames.used, 'latin1');
      frames.commit(text.length, out);
    };
    const out: Buffer[] = [];
    write('ab', out);
    write('cd', out);
    out.push(Buffer.from('|'));
    write('ef', out);
    frames.relay(Buffer.from('gh'), out);
    assert.deepEqual(
      out.map((b) => b.length),
      [0, 1, 0],
      'two runs, each one placeholder',
    );
    // Moved to another list (as a ParameterStatus's write does) before it is sealed.
    const moved = out.splice(0);
    frames.seal(moved);
    assert.deepEqual(
      moved.map((b) => b.toString('latin1')),
      ['abcd', '|', 'efgh'],
    );
    write('ij', out);
    assert.throws(() => write('kl', []), /never sealed/);
    assert.throws(() => frames.seal([]), /missing/);
  });
});

/**
 * Which columns are masked, by type (column-types.ts): the fast path that relays a row untouched must only be taken
 * for types that cannot hold text. Extension types get their OIDs when created: the catalog stand-in gives citext,
 * pgvector's vector, a table's row type and an array of it the OIDs a server might.
 */
describe('DataRow masking by column type', () => {
  const TYPES: Record<number, { name: string; category: string; element: number; relation: number }> = {
    16500: { name: 'citext', category: 'S', element: 0, relation: 0 },
    16510: { name: 'vector', category: 'U', element: 0, relation: 0 },
    16520: { name: 'people', category: 'C', element: 0, relation: 7 },
    16521: { name: '_people', category: 'A', element: 16520, relation: 0 },
    16530: { name: 'mood', category: 'E', element: 0, relation: 0 },
    16540: { name: 'posint', category: 'N', element: 0, relation: 0 },
  };
  const typed = {
    ...catalog,
    type: (oid: number) => TYPES[oid],
    missingTypes: () => [],
    columns: () => [1, 2, 3].map((attribute) => catalog.name(7, attribute)),
  } as unknown as ColumnCatalog;
  const masking = new ResultMasking(plan, typed);
  const typeField = (typeOid: number, format = 0): FieldDescription => ({
    name: `t${typeOid}`,
    tableOid: 0,
    attribute: 0,
    typeOid,
    format,
  });
  const maskOne = (typeOid: number, value: string, format = 0): string => {
    const shape = masking.shape([typeField(typeOid, format)]);
    const out: Buffer[] = [];
    masking.row(encodeRow([Buffer.from(value)]), shape, new MaskCounts(), false, out);
    masking.seal(out);
    return (decodeRow(framesOf(out)[0] as Buffer)[0] as Buffer).toString();
  };
  const RAW = 'mary.jones@example.com';

  it('types that can hold text are masked: text kin, rows, records, arrays, tsvector, citext, enums, unknown', () => {
    const cases: [number, string][] = [
      [25, RAW],
      [2249, `(1,${RAW})`], // record
      [2287, `{"(1,${RAW})"}`], // record[]
      [1009, `{${RAW},x}`], // text[]
      [3614, `'${RAW}'`], // tsvector
      [869, '10.1.2.3'], // inet: an IP address is masked too
      [16500, RAW], // citext
      [16530, RAW], // an enum label
      [16599, RAW], // a type the catalog does not know
    ];
    for (const [typeOid, value] of cases) {
      const masked = maskOne(typeOid, value);
      assert.notEqual(masked, value, `type ${typeOid}`);
      assert.ok(!masked.includes(RAW), `type ${typeOid}: ${masked}`);
    }
  });

  it('types that cannot hold text are relayed untouched: numbers, booleans, dates, uuids, vectors', () => {
    for (const typeOid of [16, 20, 21, 23, 700, 701, 1700, 1082, 1184, 2950, 1007, 16510, 16540]) {
      assert.equal(masking.shape([typeField(typeOid)]).active, false, `type ${typeOid}`);
    }
  });

  it("a table's rows and arrays of them keep the column rule of each field", () => {
    const row = maskOne(16520, `(1,${RAW},"call ${RAW}")`);
    assert.match(row, /^\(1,tok_email_[0-9a-f]{16},"call m\*\*\*@example\.com"\)$/);
    const array = maskOne(16521, `{"(1,${RAW},)","(2,x,y)"}`);
    assert.match(array, /^\{"\(1,tok_email_[0-9a-f]{16},\)","\(2,tok_email_[0-9a-f]{16},y\)"\}$/);
  });

  it('binary values that cannot be read as text are refused, never relayed raw', () => {
    for (const typeOid of [2249, 1009, 16520, 16599]) {
      assert.throws(() => masking.shape([typeField(typeOid, 1)]), /could not be masked/, `type ${typeOid}`);
    }
    // Binary text and citext are their text; binary numbers hold none.
    assert.ok(!maskOne(25, RAW, 1).includes(RAW));
    assert.ok(!maskOne(16500, RAW, 1).includes(RAW));
    assert.equal(masking.shape([typeField(23, 1)]).active, false);
  });
});
