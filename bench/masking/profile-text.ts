/** Profiles StreamMasker over the text corpus: `node --cpu-prof --cpu-prof-dir DIR --import tsx bench/masking/profile-text.ts`. */
import { MaskCounts } from '../../src/masking/counts.js';
import { type MaskingPlan, resolveMasking } from '../../src/masking/profile.js';
import type { Redactor } from '../../src/masking/redactor.js';
import { StreamMasker } from '../../src/masking/stream-masker.js';
import { generateTextCorpus } from './text-corpus.js';

const text = generateTextCorpus(16 * 1024 * 1024);
const redactor = (resolveMasking({ requests: true, exempt: [], groups: [] }, []) as { plan: MaskingPlan }).plan
  .redactor as Redactor;
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  const masker = new StreamMasker(redactor, new MaskCounts());
  for (let i = 0; i < text.length; i += 65536) masker.push(text.slice(i, i + 65536));
  masker.end();
}
