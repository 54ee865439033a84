import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { generateTextCorpus } from '../../bench/masking/text-corpus.js';
import type { Detector, Match } from '../../src/masking/detector.js';
import { detectorTable } from '../../src/masking/detectors/index.js';
import { plausiblePhone } from '../../src/masking/detectors/phone.js';
import { type DigitCluster, scanDigitClusters, scanRunClusters } from '../../src/masking/digit-clusters.js';
import { Redactor } from '../../src/masking/redactor.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * The fast paths skip work only where nothing can be found: the phone pre-check never rejects a number
 * libphonenumber accepts, and scanning only long runs of number characters finds what a scan of every digit finds.
 */

const digits = (next: () => number, count: number) =>
  Array.from({ length: count }, () => Math.floor(next() * 10)).join('');

describe('phone pre-check', () => {
  it('accepts every +1 and national NANP number libphonenumber validates', () => {
    const next = seededRandom(11);
    let validSeen = 0;
    for (let i = 0; i < 6000; i++) {
      let d = digits(next, 7 + Math.floor(next() * 8));
      // Bias towards the plan's shape so that many candidates are valid.
      if (next() < 0.6) d = `${2 + Math.floor(next() * 8)}${d.slice(1)}`;
      if (next() < 0.6 && d.length > 4) d = `${d.slice(0, 3)}${2 + Math.floor(next() * 8)}${d.slice(4)}`;
      if (next() < 0.3) d = `1${d}`;
      if (next() < 0.1) d = `1${d}`;
      if (parsePhoneNumberFromString(`+1${d}`)?.isValid() === true) {
        validSeen++;
        assert.ok(plausiblePhone(`1${d}`, true, true), `+1${d} is valid but the pre-check rejects it`);
      }
      const national = d.length >= 10 ? `${d.slice(0, -7)}-${d.slice(-7, -4)}-${d.slice(-4)}` : d;
      for (const region of ['US', 'CA'] as const) {
        if (parsePhoneNumberFromString(national, region)?.isValid() === true) {
          validSeen++;
          assert.ok(plausiblePhone(d, false, true), `${national} is valid in ${region} but the pre-check rejects it`);
        }
      }
    }
    assert.ok(validSeen > 500, `only ${validSeen} valid numbers generated`);
  });

  it('leaves other calling codes and regions to the library', () => {
    assert.ok(plausiblePhone('442079460958', true, true));
    assert.ok(plausiblePhone('0301234567', false, false));
    assert.ok(!plausiblePhone('14155552', true, true));
    assert.ok(!plausiblePhone('1234567890', false, true));
  });
});

describe('numeric detectors scan long runs only', () => {
  const table = detectorTable();
  const detectors = Object.values(table) as Detector[];
  const fast = new Redactor(detectors, () => 'redact');
  // The same detectors without minRun: every digit cluster is visited.
  const full = new Redactor(
    detectors.map((d) => (d.findInCluster === undefined ? d : { ...d, minRun: undefined })),
    () => 'redact',
  );
  const same = (text: string) => {
    const key = (matches: Match[]) => matches.map((m) => `${m.start}-${m.end}-${m.detector.type}`).join(',');
    assert.equal(key(fast.find(text)), key(full.find(text)));
  };

  it('finds the same values on the labelled corpus, record by record', () => {
    const lines = readFileSync(new URL('./fixtures/corpus.jsonl', import.meta.url), 'utf8')
      .trim()
      .split('\n');
    for (const line of lines) same((JSON.parse(line) as { text: string }).text);
  });

  it('finds the same values in 2 MB of generated logs', () => {
    const text = generateTextCorpus(2 * 1024 * 1024, 3);
    const matches = fast.find(text);
    assert.ok(matches.length > 1000);
    same(text);
  });

  it('run scan: visits exactly the clusters of a full scan that are long enough', () => {
    const next = seededRandom(21);
    // Dense in what clusters are made of, with letters, line breaks and hex-like runs between.
    const pieces = [
      ...'0123456789',
      ...'0123456789',
      ...' .-()+',
      '  ',
      ' (',
      ') ',
      '--',
      '..',
      'a',
      'f',
      'x',
      '\n',
      ':',
    ];
    const key = (cluster: DigitCluster) =>
      `${cluster.start}-${cluster.end}:${cluster.digits},${cluster.dots},${cluster.gaps}`;
    let visited = 0;
    for (let t = 0; t < 20_000; t++) {
      let text = '';
      const length = Math.floor(next() * 80);
      for (let i = 0; i < length; i++) text += pieces[Math.floor(next() * pieces.length)];
      for (const [minRun, plusRun] of [
        [11, 9],
        [12, 12],
        [3, 2],
        [1, 1],
      ] as const) {
        const expected: string[] = [];
        scanDigitClusters(text, (cluster) => {
          const length = cluster.end - cluster.start;
          const plus = text.charCodeAt(cluster.start) === 43;
          if (length >= minRun || (plus && length >= plusRun)) expected.push(key(cluster));
        });
        const found: string[] = [];
        scanRunClusters(text, minRun, (cluster) => found.push(key(cluster)), plusRun);
        assert.deepEqual(found.sort(), expected.sort(), `${JSON.stringify(text)} ${minRun}/${plusRun}`);
        visited += found.length;
      }
    }
    assert.ok(visited > 10_000, 'clusters were compared');
  });

  it('finds numbers at the very start and end of a text and between runs of separators', () => {
    for (const text of [
      '4242 4242 4242 4242',
      '+14155552671',
      '10.0.0.1',
      '219-09-9998',
      '----- 4242-4242-4242-4242 -----',
      'x (415) 555-2671',
      `${' '.repeat(50)}+44 20 7946 0958${'.'.repeat(50)}`,
    ]) {
      assert.equal(fast.find(text).length, 1, text);
      same(text);
    }
  });
});
