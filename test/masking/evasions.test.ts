import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MaskCounts } from '../../src/masking/counts.js';
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

const ZERO_WIDTH = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff'];

/**
 * The unicode evasions of finding 6, each applied to every line of the labelled corpus: to the labelled value of a
 * line that holds one (recall), and to the whole of a line that holds only look-alikes (precision: an evasion must
 * not turn a look-alike into a find).
 */
const EVASIONS: Readonly<Record<string, (value: string) => string>> = Object.assign(Object.create(null), {
  'full-width digits': (v: string) => v.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))),
  'zero-width characters': (v: string) =>
    [...v].map((c, i) => (i > 0 && i % 3 === 0 ? `${ZERO_WIDTH[i % ZERO_WIDTH.length]}${c}` : c)).join(''),
  'non-breaking hyphens and spaces': (v: string) => v.replace(/-/g, '\u2011').replace(/ /g, '\u00a0'),
  'en dashes and narrow spaces': (v: string) => v.replace(/-/g, '\u2013').replace(/ /g, '\u202f'),
  'full-width everything': (v: string) =>
    v.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x21 + 0xff01)).replace(/ /g, '\u3000'),
});

describe('detectors against unicode evasions of the labelled corpus', () => {
  const table = detectorTable();
  const redactor = new Redactor(
    DETECTOR_TYPES.map((type) => table[type]),
    () => 'redact',
  );

  for (const [name, evade] of Object.entries(EVASIONS)) {
    it(`${name}: recall >= 0.99 and precision >= 0.98 per type`, () => {
      const score: Record<string, { tp: number; fp: number; fn: number }> = Object.create(null);
      for (const type of DETECTOR_TYPES) score[type] = { tp: 0, fp: 0, fn: 0 };
      const mistakes: string[] = [];
      for (const { text, labels } of lines) {
        const label = labels[0];
        let evaded: string;
        let expected: Label | undefined;
        if (label === undefined) evaded = evade(text);
        else {
          const value = evade(text.slice(label.start, label.end));
          evaded = text.slice(0, label.start) + value + text.slice(label.end);
          expected = { type: label.type, start: label.start, end: label.start + value.length };
        }
        const found = redactor.find(evaded);
        const hit = found.some(
          (m) => expected && m.detector.type === expected.type && m.start === expected.start && m.end === expected.end,
        );
        if (expected) {
          (score[expected.type] as { tp: number; fn: number })[hit ? 'tp' : 'fn']++;
          if (!hit)
            mistakes.push(`missed ${expected.type}: ${JSON.stringify(evaded.slice(expected.start, expected.end))}`);
        }
        for (const m of found) {
          if (expected && m.detector.type === expected.type && m.start === expected.start && m.end === expected.end)
            continue;
          (score[m.detector.type] as { fp: number }).fp++;
          mistakes.push(`false ${m.detector.type}: ${JSON.stringify(evaded.slice(m.start, m.end))}`);
        }
      }
      const report: string[] = [];
      for (const type of DETECTOR_TYPES) {
        const { tp, fp, fn } = score[type] as { tp: number; fp: number; fn: number };
        const recall = tp / (tp + fn);
        const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
        console.log(`# ${name} ${type.padEnd(7)} recall ${recall.toFixed(4)} precision ${precision.toFixed(4)}`);
        if (recall < 0.99 || precision < 0.98) report.push(`${type}: recall ${recall}, precision ${precision}`);
      }
      assert.deepEqual(report, [], mistakes.slice(0, 8).join('; '));
    });
  }

  it('masks the original span, invisible characters included, and keeps the folded digits in partial style', () => {
    const partial = new Redactor(
      DETECTOR_TYPES.map((type) => table[type]),
      () => 'partial',
    );
    const text =
      'card ４２４２\u00a0４２４２\u00a0４２４２\u00a0４２４２, mail jane\u200b.doe@example.com, ssn 536\u201122\u20111234.';
    const masked = partial.mask(text, new MaskCounts());
    assert.doesNotMatch(masked, /[４\u200b]|jane\.doe|536/);
    assert.match(masked, /^card \*\*\*\*4242, mail j\S*@example\.com, ssn \*\*\*-\*\*-1234\.$/);
  });

  it('masks phone numbers written as phone numbers even outside the numbering plan, but not bare runs', () => {
    const counts = new MaskCounts();
    const masked = redactor.mask(
      'office +1 555 010 1234, desk (555) 010-1234, +1-555-010-1234; ids 5550101234 555.010.12345 +15550101234',
      counts,
    );
    assert.equal(masked, 'office [PHONE], desk [PHONE], [PHONE]; ids 5550101234 555.010.12345 +15550101234');
  });
});
