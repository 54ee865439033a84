import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DETECTOR_TYPES, detectorTable } from '../../src/masking/detectors/index.js';
import { Redactor } from '../../src/masking/redactor.js';

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
