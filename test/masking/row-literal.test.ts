import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { maskLiteral } from '../../src/masking/row-literal.js';

/** The values maskLiteral finds in a literal, in order (NULLs are not values: they are not passed). */
function valuesOf(text: string): string[] | undefined {
  const values: string[] = [];
  const masked = maskLiteral(text, {
    texts: (found) => {
      values.push(...found);
      return found;
    },
  });
  return masked === undefined ? undefined : values;
}

/** A masking of each value alone. */
function each(mask: (value: string) => string): { texts: (values: readonly string[]) => string[] } {
  return { texts: (values) => values.map(mask) };
}

/** Rows and arrays as PostgreSQL 18 rendered them (whole rows, records, arrays of rows of the corpus's lines). */
const rendered = readFileSync(new URL('./fixtures/pg-evasions.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { form: string; text: string })
  .filter((line) => ['whole-row', 'record', 'array-of-rows'].includes(line.form));

describe('row and array literals (row-literal.ts)', () => {
  it('reads values unescaped: NULLs, empty strings, doubled quotes, backslashes, nesting', () => {
    assert.deepEqual(valuesOf('(1,,"","a ""b"" c","x\\\\y")'), ['1', '', 'a "b" c', 'x\\y']);
    assert.deepEqual(valuesOf('(1,"(2,""mary@x.com"")")'), ['1', '2', 'mary@x.com']);
    assert.deepEqual(valuesOf('{"(1,\\"a b\\")",NULL,"NULL",(2\\,x)}'), ['1', 'a b', 'NULL', '2', 'x']);
    assert.deepEqual(valuesOf('[0:1][1:2]={{a, b},{"c d",NULL}}'), ['a', 'b', 'c d']);
    assert.deepEqual(valuesOf('{}'), []);
    assert.deepEqual(valuesOf('()'), []);
  });

  it('is not fooled: text that is no literal is left to the caller; malformed literals too', () => {
    for (const text of ['mary@x.com', '', '(a,"b', '{a,b', '(a)b', '{a}}', '[1:2]{a}', '(a,"b"c"']) {
      assert.equal(
        maskLiteral(
          text,
          each(() => 'X'),
        ),
        undefined,
        text,
      );
    }
    // A value that looks like a row but is not one is masked as text.
    assert.equal(
      maskLiteral(
        '("(see note",1)',
        each((v) => v.toUpperCase()),
      ),
      '("(SEE NOTE",1)',
    );
  });

  it('renders masked values in the server quoting, at every level of nesting', () => {
    const mask = each((value: string) => value.replace(/mary@x\.com/g, 'm "q" \\ , ( ) { }'));
    const row = maskLiteral('(1,mary@x.com,"(2,mary@x.com)")', mask) as string;
    assert.deepEqual(valuesOf(row), ['1', 'm "q" \\ , ( ) { }', '2', 'm "q" \\ , ( ) { }']);
    const array = maskLiteral('{"(1,mary@x.com)",mary@x.com,NULL}', mask) as string;
    assert.deepEqual(valuesOf(array), ['1', 'm "q" \\ , ( ) { }', 'm "q" \\ , ( ) { }']);
    // An empty result and the string NULL are quoted, not read back as NULL.
    assert.equal(
      maskLiteral(
        '{a,b}',
        each((v) => (v === 'a' ? '' : 'NULL')),
      ),
      '{"","NULL"}',
    );
    assert.equal(
      maskLiteral(
        '(a,b)',
        each((v) => (v === 'a' ? '' : 'x')),
      ),
      '("",x)',
    );
  });

  it("PostgreSQL's own renderings: unchanged when nothing is masked, and masked values read back as written", () => {
    assert.ok(rendered.length >= 1000);
    for (const { text } of rendered) {
      assert.equal(
        maskLiteral(
          text,
          each((v) => v),
        ),
        text,
        'nothing masked: the original text, not a re-rendering',
      );
      const before = valuesOf(text) as string[];
      const upper = maskLiteral(
        text,
        each((v) => `<${v.toUpperCase()}>`),
      ) as string;
      assert.deepEqual(
        valuesOf(upper),
        before.map((v) => `<${v.toUpperCase()}>`),
        text,
      );
    }
  });

  it("fields of the top-level row and of a top-level array's rows go to their column rule, nested rows do not", () => {
    const seen: string[] = [];
    const masking = {
      field: (index: number, value: string) => {
        seen.push(`${index}:${value}`);
        return index === 1 ? 'RULE' : undefined;
      },
      texts: (values: readonly string[]) => values,
    };
    assert.equal(maskLiteral('(1,secret,"(2,inner)")', masking), '(1,RULE,"(2,inner)")');
    assert.deepEqual(seen, ['0:1', '1:secret', '2:(2,inner)']);
    assert.equal(maskLiteral('{"(1,a)","(2,b)"}', masking), '{"(1,RULE)","(2,RULE)"}');
  });

  it('deep nesting is bounded: no stack overflow, the deepest level masked as text', () => {
    let text = 'mary@x.com';
    // Each level doubles the quotes inside it: 20 levels is a megabyte.
    for (let i = 0; i < 20; i++) text = `("${text.replace(/["\\]/g, (c) => c + c)}")`;
    const masked = maskLiteral(
      text,
      each((v) => v.replaceAll('mary@x.com', '[EMAIL]')),
    );
    assert.ok(masked !== undefined && !masked.includes('mary@x.com'));
    const arrays = `${'{'.repeat(5000)}a${'}'.repeat(5000)}`;
    assert.doesNotThrow(() =>
      maskLiteral(
        arrays,
        each((v) => v),
      ),
    );
  });
});
