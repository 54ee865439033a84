import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MaskCounts } from '../../src/masking/counts.js';
import { DETECTOR_TYPES, detectorTable } from '../../src/masking/detectors/index.js';
import { JsonMasker } from '../../src/masking/json-masker.js';
import { Redactor } from '../../src/masking/redactor.js';
import { maskLiteral } from '../../src/masking/row-literal.js';

interface Label {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

const lines = readFileSync(new URL('./fixtures/corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { text: string; labels: Label[] });

describe('detectors on the labelled corpus (test/masking/fixtures/corpus.jsonl)', () => {
  const table = detectorTable();
  const redactor = new Redactor(
    DETECTOR_TYPES.map((type) => table[type]),
    () => 'redact',
  );
  const score: Record<string, { tp: number; fp: number; fn: number }> = Object.create(null);
  for (const type of DETECTOR_TYPES) score[type] = { tp: 0, fp: 0, fn: 0 };
  const mistakes: string[] = [];
  for (const { text, labels } of lines) {
    const found = redactor.find(text);
    const key = (type: string, start: number, end: number) => `${type}:${start}:${end}`;
    const expected = new Set(labels.map((l) => key(l.type, l.start, l.end)));
    const got = new Set(found.map((m) => key(m.detector.type, m.start, m.end)));
    for (const label of labels) {
      const hit = got.has(key(label.type, label.start, label.end));
      (score[label.type] as { tp: number; fn: number })[hit ? 'tp' : 'fn']++;
      if (!hit) mistakes.push(`missed ${label.type}: ${JSON.stringify(text.slice(label.start, label.end))}`);
    }
    for (const match of found) {
      if (expected.has(key(match.detector.type, match.start, match.end))) continue;
      (score[match.detector.type] as { fp: number }).fp++;
      mistakes.push(`false ${match.detector.type}: ${JSON.stringify(text.slice(match.start, match.end))}`);
    }
  }

  for (const type of DETECTOR_TYPES) {
    it(`${type}: recall >= 0.99 and precision >= 0.98`, () => {
      const { tp, fp, fn } = score[type] as { tp: number; fp: number; fn: number };
      const recall = tp / (tp + fn);
      const precision = tp / (tp + fp);
      console.log(
        `# ${type.padEnd(7)} precision ${precision.toFixed(4)} recall ${recall.toFixed(4)} (tp ${tp}, fp ${fp}, fn ${fn})`,
      );
      assert.ok(tp + fn >= 250, 'the corpus holds enough labelled values of this type');
      for (const m of mistakes.filter((m) => m.includes(type))) console.log(`#   ${m}`);
      assert.ok(
        recall >= 0.99,
        `recall ${recall}: ${mistakes
          .filter((m) => m.includes(type))
          .slice(0, 5)
          .join('; ')}`,
      );
      assert.ok(
        precision >= 0.98,
        `precision ${precision}: ${mistakes
          .filter((m) => m.includes(type))
          .slice(0, 5)
          .join('; ')}`,
      );
    });
  }
});

/**
 * The same values as PostgreSQL renders them in the forms that carried them past the gateway raw (issue 25): whole
 * rows, records, arrays of rows, JSON built from rows, and the error of a failed cast (fixtures/pg-evasions.jsonl,
 * made from a real server by generate-pg-evasions.ts). Masked as the gateway masks each form (JSON value by value,
 * rows and arrays value by value unescaped, errors as text), a label is recalled when its raw value is gone from the
 * masked text.
 */
describe('PostgreSQL renderings of the corpus (test/masking/fixtures/pg-evasions.jsonl): recall', () => {
  const table = detectorTable();
  const redactor = new Redactor(
    DETECTOR_TYPES.map((type) => table[type]),
    () => 'redact',
  );
  const evasions = readFileSync(new URL('./fixtures/pg-evasions.jsonl', import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { form: string; text: string; labels: (Label & { value: string })[] });
  const JSON_FORMS = new Set(['to-jsonb', 'row-to-json']);
  const score: Record<string, { tp: number; fn: number }> = Object.create(null);
  const missed: string[] = [];
  for (const { form, text, labels } of evasions) {
    const counts = new MaskCounts();
    let masked: string;
    if (JSON_FORMS.has(form)) {
      const masker = new JsonMasker(redactor, counts);
      masked = masker.push(text) + masker.end();
    } else if (form === 'cast-error') masked = redactor.mask(text, counts);
    else masked = maskLiteral(text, { texts: (values) => redactor.maskEach(values, counts) }) ?? 'not a literal';
    for (const label of labels) {
      for (const key of [label.type, `${label.type} in ${form}`]) score[key] ??= { tp: 0, fn: 0 };
      const hit = !masked.includes(label.value);
      for (const key of [label.type, `${label.type} in ${form}`])
        (score[key] as { tp: number; fn: number })[hit ? 'tp' : 'fn']++;
      if (!hit) missed.push(`${form}: missed ${label.type} ${JSON.stringify(label.value)}`);
    }
  }

  it('every form of every type is in the fixture', () => {
    const forms = new Set(evasions.map((e) => e.form));
    assert.deepEqual([...forms].sort(), [
      'array-of-rows',
      'cast-error',
      'record',
      'row-to-json',
      'to-jsonb',
      'whole-row',
    ]);
    for (const type of DETECTOR_TYPES) assert.ok((score[type]?.tp ?? 0) + (score[type]?.fn ?? 0) >= 200, type);
  });

  for (const type of DETECTOR_TYPES) {
    it(`${type}: recall >= 0.99 in PostgreSQL's renderings`, () => {
      for (const [key, { tp, fn }] of Object.entries(score))
        if (key === type || key.startsWith(`${type} in `))
          console.log(`# ${key.padEnd(24)} recall ${(tp / (tp + fn)).toFixed(4)} (tp ${tp}, fn ${fn})`);
      const { tp, fn } = score[type] as { tp: number; fn: number };
      const mistakes = missed.filter((m) => m.includes(` ${type} `));
      for (const m of mistakes.slice(0, 10)) console.log(`#   ${m}`);
      assert.ok(tp / (tp + fn) >= 0.99, `recall ${tp / (tp + fn)}: ${mistakes.slice(0, 5).join('; ')}`);
    });
  }
});
