import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isValidIBAN } from 'ibantools';
import { generateTextCorpus } from '../../bench/masking/text-corpus.js';
import { MaskCounts } from '../../src/masking/counts.js';
import type { Detector, Match } from '../../src/masking/detector.js';
import { CANDIDATE as IBAN_CANDIDATE, iban } from '../../src/masking/detectors/iban.js';
import { DETECTOR_TYPES, detectorTable } from '../../src/masking/detectors/index.js';
import { findAssignments, KINDS, secret } from '../../src/masking/detectors/secret.js';
import { charTable } from '../../src/masking/digit-clusters.js';
import { Redactor, Survey } from '../../src/masking/redactor.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * The hand-written searches (anchored on rare characters, digit clusters, one scan for a row's values) find exactly
 * what the straightforward way finds: each detector's regex run globally over the whole text, each text masked on its
 * own. Held over the generated benchmark corpus, the labelled corpus, and generated strings dense in the characters
 * values are made of.
 */

const FRAGMENTS = [
  ...'0123456789 .-()+:=_@/\n',
  '1',
  '22',
  '415',
  '555-2671',
  '+1 ',
  '+44 20 7946 0958',
  '(415) ',
  '4242 ',
  '4242 4242 4242 4242',
  '378282246310005',
  '123-45-6789',
  '10.0.',
  '192.168.1.10',
  '255.',
  '1.2.3.4.5',
  'v1.2.3.4',
  'GB82 WEST 1234 5698 7654 32',
  'AKIA',
  'AKIAIOSFODNN7EXAMPLE',
  'ASIA',
  'ghp_',
  'github_pat_',
  'xoxb-',
  'eyJ',
  'eyJhbGciOiJIUzI1NiJ9',
  '.eyJzdWIiOiIxIn0.sig',
  '-----BEGIN RSA PRIVATE KEY-----',
  '-----END RSA PRIVATE KEY-----',
  'sk-',
  'rk_',
  'sk_live_',
  'abc123def456ghi789jkl012mno345',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
  'password',
  'DB_PASSWORD',
  '"',
  'k',
  's',
  'x',
  'mary@example.com',
  'fe80::1',
  'é',
];

/** Texts of 2 to 14 fragments: values, their pieces and what may stand next to them. */
function fragmentTexts(count: number, seed: number): string[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, () => {
    let text = '';
    const parts = 2 + Math.floor(next() * 13);
    for (let i = 0; i < parts; i++) text += FRAGMENTS[Math.floor(next() * FRAGMENTS.length)];
    return text;
  });
}

const labelled = readFileSync(new URL('./fixtures/corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => (JSON.parse(line) as { text: string }).text);
const corpus = generateTextCorpus(1024 * 1024, 11);
const corpusLines = corpus.split('\n');
const texts = [corpus, ...labelled, ...fragmentTexts(20_000, 5)];

const key = (matches: readonly Match[]) =>
  matches
    .map((m) => `${m.start}-${m.end}-${m.detector.type}`)
    .sort()
    .join(',');

/** `pattern` with the g flag over the whole text, keeping the matches `accept` passes. */
function globalFinds(
  text: string,
  pattern: RegExp,
  accept: (m: RegExpExecArray) => boolean,
  detector: Detector,
  out: Match[],
): void {
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  for (let m = global.exec(text); m !== null; m = global.exec(text)) {
    if (accept(m)) out.push({ start: m.index, end: m.index + m[0].length, detector });
    if (m[0].length === 0) global.lastIndex++;
  }
}

/** Redactors with different minRun, plusRun and notAfter, for the survey tests. */
function surveyRedactors(table = detectorTable()): Redactor[] {
  return [
    new Redactor(
      DETECTOR_TYPES.map((type) => table[type]),
      () => 'redact',
    ),
    // Numeric detectors only, and without the card: another minRun, plusRun and notAfter.
    new Redactor([table.phone, table.ssn], () => 'redact'),
    new Redactor([table.card, table.email], () => 'redact'),
    // A numeric detector said not to follow spaces, parentheses or `+`: values still begin after them inside a
    // cluster (its gaps), which the survey must see.
    new Redactor([{ ...table.phone, notAfter: charTable(' ()+-./') }], () => 'redact'),
  ];
}

describe('fast paths', () => {
  const table = detectorTable();

  for (const detector of Object.values(table)) {
    const regex = detector.regex;
    if (regex === undefined) continue;
    it(`${detector.type}: finds what its regex finds over the whole text`, () => {
      for (const text of texts) {
        const fast: Match[] = [];
        detector.find(text, fast);
        const plain: Match[] = [];
        globalFinds(text, regex.pattern, (m) => regex.accept(m), detector, plain);
        assert.equal(key(fast), key(plain), JSON.stringify(text.slice(0, 200)));
      }
    });
  }

  it('secret: the prefix-anchored search finds what each kind pattern finds over the whole text', () => {
    for (const text of texts) {
      const fast: Match[] = [];
      secret.find(text, fast);
      const plain: Match[] = [];
      findAssignments(text, plain);
      for (const kind of KINDS) globalFinds(text, kind.pattern, (m) => kind.accept?.(m[0]) ?? true, secret, plain);
      assert.equal(key(fast), key(plain), JSON.stringify(text.slice(0, 200)));
    }
  });

  it('iban: the search for starts finds what the candidate pattern finds tried at every position', () => {
    const sticky = new RegExp(`(?<![A-Za-z0-9])${IBAN_CANDIDATE.source}`, 'y');
    // Hex ids and upper-case runs as well: dense in digits, and in capitals.
    const next = seededRandom(17);
    const dense = Array.from({ length: 4000 }, () => {
      let text = '';
      const parts = 1 + Math.floor(next() * 10);
      for (let i = 0; i < parts; i++)
        text += ['GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000', 'AB12', 'x', ' ', '0f3a9b', 'ZZ', '99'][
          Math.floor(next() * 8)
        ];
      return text;
    });
    let found = 0;
    for (const text of [...texts, ...dense]) {
      const fast: Match[] = [];
      iban.find(text, fast);
      const plain: Match[] = [];
      for (let at = 0; at < text.length; at++) {
        sticky.lastIndex = at;
        const m = sticky.exec(text);
        if (m !== null && isValidIBAN(m[0].replace(/ /g, '')))
          plain.push({ start: at, end: at + m[0].length, detector: iban });
      }
      assert.equal(key(fast), key(plain), JSON.stringify(text.slice(0, 200)));
      found += fast.length;
    }
    assert.ok(found > 100, 'IBANs were found');
  });

  it('joined scan: masking a row of values at once is masking each on its own', () => {
    const redactor = new Redactor(
      DETECTOR_TYPES.map((type) => table[type]),
      (type) => (type === 'email' ? 'partial' : 'redact'),
    );
    const next = seededRandom(9);
    const pieces = [...corpusLines.slice(0, 4000), ...labelled, ...fragmentTexts(4000, 13)];
    let masked = 0;
    for (let row = 0; row < 3000; row++) {
      const values: string[] = [];
      const width = 1 + Math.floor(next() * 14);
      for (let i = 0; i < width; i++) {
        let value = pieces[Math.floor(next() * pieces.length)] as string;
        // Cut values anywhere, so that values (and private-key blocks) are split across neighbours.
        if (next() < 0.3) value = value.slice(Math.floor(next() * value.length));
        if (next() < 0.3) value = value.slice(0, Math.floor(next() * (value.length + 1)));
        values.push(value);
      }
      const together = new MaskCounts();
      const alone = new MaskCounts();
      const joined = redactor.maskEach(values, together);
      assert.deepEqual(
        joined,
        values.map((value) => redactor.mask(value, alone)),
        JSON.stringify(values),
      );
      assert.deepEqual(together.toRecord(), alone.toRecord());
      if (joined.every((value, i) => value === values[i])) continue;
      masked++;
    }
    assert.ok(masked > 100, 'rows with something masked were compared');
  });

  it('survey: skipping the detectors a survey rules out finds what running them all finds', () => {
    // Rows of values joined by line breaks, each value surveyed on its own as the DataRow path does. Values from
    // the corpora, the fragments (each detector's values, their pieces and near misses) and hex ids with runs of
    // digits after letters, separators, spaces and parentheses (the runs the survey may pass over, and not).
    const redactors = surveyRedactors();
    const next = seededRandom(31);
    const hexPieces = [
      ...'0123456789abcdefx_.-() +:\n',
      '4242424242424242',
      '14155552671',
      '12345678901',
      ' 415 555 2671',
      '(415) 555-2671',
      '(415)555-2671',
      '12)415-555-2671',
      ' 4242 4242 4242 4242',
      '123-45-6789',
      // International numbers shorter than minRun: found from their `+` only.
      '+298312345',
      ' +50022222',
      // Each the only trigger of its detector in the value.
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyIn0.sig',
      'DE89370400440532013000',
      'mary@example.com',
      'fe80::1',
      '10.1.2.3',
      'G',
    ];
    const hex = () => {
      let value = '';
      const parts = Math.floor(next() * 30);
      for (let i = 0; i < parts; i++)
        value +=
          next() < 0.7 ? '0123456789abcdef'[Math.floor(next() * 16)] : hexPieces[Math.floor(next() * hexPieces.length)];
      return value;
    };
    const pieces = [...corpusLines.slice(0, 4000), ...labelled, ...fragmentTexts(4000, 19)];
    let skipped = 0;
    let found = 0;
    for (let row = 0; row < 6000; row++) {
      const values: string[] = [];
      const width = 1 + Math.floor(next() * 12);
      for (let i = 0; i < width; i++) {
        let value = next() < 0.5 ? hex() : (pieces[Math.floor(next() * pieces.length)] as string);
        if (next() < 0.3) value = value.slice(Math.floor(next() * value.length));
        values.push(value);
      }
      const text = values.join('\n');
      const bytes = Buffer.from(text, 'utf8');
      const starts: number[] = [];
      const ends: number[] = [];
      for (let i = 0, at = 0; i < values.length; at += (values[i] as string).length + 1, i++) {
        starts.push(at);
        ends.push(at + (values[i] as string).length);
      }
      for (const redactor of redactors) {
        const survey = new Survey();
        for (let i = 0; i < values.length; i++)
          redactor.survey(bytes, starts[i] as number, ends[i] as number, starts[i] as number, survey);
        const plain = redactor.findInValues(text, starts, ends, values.length);
        if (!survey.ascii) {
          assert.notEqual(bytes.length, text.length, 'only text outside ASCII is refused');
          continue;
        }
        const message = JSON.stringify(values);
        // What the DataRow path decides (`ResultMasking.maskScanned`): no run, and no class a detector is triggered by.
        if (survey.runFrom === -1 && !redactor.mayFindInClasses(survey.seen)) {
          assert.deepEqual(plain, [], message);
          skipped++;
          continue;
        }
        const surveyed = redactor.findInValues(text, starts, ends, values.length, survey);
        assert.equal(
          surveyed === undefined ? 'crossing' : key(surveyed),
          plain === undefined ? 'crossing' : key(plain),
          message,
        );
        found += plain?.length ?? 0;
      }
    }
    assert.ok(skipped > 1000, 'texts were ruled out');
    assert.ok(found > 1000, 'values were found');
  });

  it('survey: the pass that only ors classes together, until an OPEN character, says what following every run says', () => {
    // Values of RUN characters, letters (no class), triggers and OPEN characters, surveyed in up to four ranges of
    // one text; runs at the start of a range, after OPEN characters and glued to letters, around each range's end.
    const next = seededRandom(43);
    const alphabet = ['0', '1', '7', '-', '.', 'a', 'f', 'q', 'k', 'A', ' ', '(', '+', ',', '@', ':', '=', '\n'];
    const value = () => {
      let text = '';
      const length = Math.floor(next() * 40);
      for (let i = 0; i < length; i++)
        text += next() < 0.5 ? '0123456789'[Math.floor(next() * 10)] : alphabet[Math.floor(next() * alphabet.length)];
      return text;
    };
    let runs = 0;
    for (const redactor of surveyRedactors()) {
      for (let row = 0; row < 3000; row++) {
        const values = Array.from({ length: 1 + Math.floor(next() * 4) }, value);
        const bytes = Buffer.from(values.join('|'), 'latin1');
        const quick = new Survey();
        const everyByte = new Survey();
        for (let i = 0, from = 0; i < values.length; from += (values[i] as string).length + 1, i++) {
          const to = from + (values[i] as string).length;
          // Text offsets other than byte offsets, as in a row whose values are joined without their length words.
          const at = from + 7 * i;
          redactor.survey(bytes, from, to, at, quick);
          redactor.surveyByteByByte(bytes, from, to, at - from, true, everyByte);
        }
        assert.deepEqual({ ...quick }, { ...everyByte }, JSON.stringify(values));
        if (everyByte.runFrom !== -1) runs++;
      }
    }
    assert.ok(runs > 1000, `runs were found (${runs})`);
  });

  it('joined scan: a private-key block split across two values is masked in neither', () => {
    const redactor = new Redactor([secret], () => 'redact');
    const values = ['-----BEGIN RSA PRIVATE KEY-----\nMIIE', 'abc\n-----END RSA PRIVATE KEY-----'];
    const counts = new MaskCounts();
    assert.deepEqual(redactor.maskEach(values, counts), values);
    assert.ok(counts.empty);
    // Whole in one value, it is masked.
    assert.deepEqual(redactor.maskEach([values.join(''), 'x'], counts), ['[SECRET]', 'x']);
  });
});
