import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MaskCounts } from '../../src/masking/counts.js';
import { type MaskingPlan, resolveMasking } from '../../src/masking/profile.js';
import type { ColumnCatalog } from '../../src/protocols/postgres/masking/column-catalog.js';
import { hashBytes } from '../../src/protocols/postgres/masking/masked-value-cache.js';
import { ResultMasking } from '../../src/protocols/postgres/masking/result-masking.js';
import type { FieldDescription } from '../../src/protocols/postgres/masking/row-description.js';
import { encodeRow } from '../support/data-row.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * Column rule cache: a rule column's values are masked from a cache keyed by their bytes (see `MaskedValueCache`).
 * Rows through it must come out byte for byte, and counted, as each value masked by `plan.maskValue` alone: values
 * repeated and distinct, ASCII, multi-byte and invalid UTF-8, empty, NULL, longer than the cache keeps, values the
 * rule leaves as they are, and values of equal length whose hashes collide; with caches small enough to be cleared
 * again and again.
 */

const config = {
  requests: true,
  exempt: [],
  groups: [],
  scan: false,
  columns: [
    { column: 'people.email', type: 'email', style: 'tokenize' },
    { column: 'people.contact', type: 'email', style: 'partial' },
    { column: 'people.ssn', type: 'ssn', style: 'redact' },
    // No type: partial keeps the first character, so `x***` masks to itself.
    { column: 'people.name', style: 'partial' },
  ],
  tokenKey: 'rule-cache-test-token-key-0123456789',
} as never;
const plan = (resolveMasking(config, []) as { mode: 'mask'; plan: MaskingPlan }).plan;
const COLUMNS = ['id', 'email', 'contact', 'ssn', 'name', 'note'];
const catalog = {
  name: (_table: number, attribute: number) => ({
    schema: 'public',
    table: 'people',
    column: COLUMNS[attribute - 1] as string,
  }),
  missing: () => [],
} as unknown as ColumnCatalog;
const FIELDS: FieldDescription[] = COLUMNS.map((name, i) => ({
  name,
  tableOid: 7,
  attribute: i + 1,
  typeOid: i === 0 ? 23 : 25,
  format: 0,
}));

/** Pairs of values of equal length whose hashes collide: a hit must compare the bytes, not only the hash. */
const COLLIDING = [
  ['4eec63d480@example.com', '0875f77f3c@example.com'],
  ['e49e826927@example.com', '6bdf8f848e@example.com'],
  ['ff10bdb362@example.com', '7e12559901@example.com'],
  ['d7c07a4975@example.com', '21044ebd47@example.com'],
] as const;

/** A pool of values, some met often: most are repeated, a few are new each time. */
function valueSource(next: () => number): () => Buffer | null {
  const fixed = [
    '',
    'a',
    'x***',
    '[SSN]',
    '123-45-6789',
    'mary.jones@example.com',
    'Mary.Jones@Example.com',
    'josé@exämple.com',
    'Zoë Ångström',
    '名前@例え.jp',
    '😀',
    'x'.repeat(256),
    'y'.repeat(257),
    `${'z'.repeat(300)}@example.com`,
    ...COLLIDING.flat(),
  ].map((value) => Buffer.from(value));
  const invalid = [Buffer.from([0xc3]), Buffer.from([0xff, 0x41]), Buffer.from([0x61, 0xe2, 0x82])];
  const pool = [...fixed, ...invalid];
  for (let i = 0; i < 200; i++) pool.push(Buffer.from(`user${i}@example.com`));
  let fresh = 0;
  return () => {
    const pick = next();
    if (pick < 0.05) return null;
    if (pick < 0.15) return Buffer.from(`new${fresh++}.${Math.floor(next() * 1e9)}@example.org`);
    // Skewed towards the start of the pool: the fixed values come back often.
    return pool[Math.floor(next() * next() * pool.length)] as Buffer;
  };
}

/** Masks `rows` generated rows through `masking` and checks each against `plan.maskValue` on its values alone. */
function checkRows(masking: ResultMasking, seed: number, rows: number): { masked: number; kept: number } {
  const shape = masking.shape(FIELDS);
  const next = seededRandom(seed);
  const value = valueSource(next);
  let masked = 0;
  let kept = 0;
  for (let row = 0; row < rows; row++) {
    const values = FIELDS.map((_, i) => (i === 0 ? Buffer.from(String(row)) : value()));
    const frame = encodeRow(values);
    const counts = new MaskCounts();
    const out: Buffer[] = [];
    const captured = masking.row(frame, shape, counts, true, out);
    masking.seal(out);

    const expectedCounts = new MaskCounts();
    const expectedText: (string | null)[] = [];
    const expected = values.map((bytes, i) => {
      const action = shape.actions[i];
      const text = bytes === null ? null : bytes.toString('utf8');
      if (bytes === null || text === null || action === undefined) {
        expectedText.push(text);
        return bytes;
      }
      assert.equal(action.kind, 'rule');
      if (action.kind !== 'rule') return bytes;
      const result = plan.maskValue(action.rule.kind, action.rule.style, text, expectedCounts);
      expectedText.push(result);
      if (result === text) {
        kept++;
        return bytes;
      }
      masked++;
      return Buffer.from(result);
    });
    assert.deepEqual(Buffer.concat(out), encodeRow(expected), `row ${row}`);
    assert.deepEqual(counts.toRecord(), expectedCounts.toRecord(), `row ${row}`);
    assert.deepEqual(captured, expectedText, `row ${row}`);
  }
  return { masked, kept };
}

describe('column rule cache', () => {
  it('the colliding values collide: a hit is told apart by its bytes', () => {
    for (const [a, b] of COLLIDING) {
      const [x, y] = [Buffer.from(a), Buffer.from(b)];
      assert.equal(x.length, y.length);
      assert.notDeepEqual(x, y);
      assert.equal(hashBytes(x, 0, x.length), hashBytes(y, 0, y.length), `${a} and ${b}`);
    }
  });

  it('masks rows as plan.maskValue masks each value alone, at full size', () => {
    const { masked, kept } = checkRows(new ResultMasking(plan, catalog), 11, 4000);
    assert.ok(masked > 10_000, 'masked values were compared');
    assert.ok(kept > 100, 'values the rule leaves as they are were compared');
  });

  it('masks rows the same when the caches are small and cleared again and again', () => {
    for (const entries of [1, 2, 7, 33]) checkRows(new ResultMasking(plan, catalog, entries), 100 + entries, 1500);
  });

  it('keeps the caches from one result to the next, and masks the same', () => {
    const masking = new ResultMasking(plan, catalog, 64);
    for (let result = 0; result < 5; result++) checkRows(masking, 7, 300);
  });
});
