import type { MaskCounts } from './counts.js';
import type { Redactor } from './redactor.js';
import { StreamMasker } from './stream-masker.js';

/**
 * Text that arrives in pieces over many events, one stream per key (a choice's content, a tool call's arguments, a
 * Responses output item's text): each key gets a StreamMasker, so a value split across events (`jane.doe@` then
 * `example.com`) is still caught. Keys keep their insertion order, so what is released at the end goes out in the
 * order the streams began.
 */
export class DeltaStreams {
  private readonly streams = new Map<string, StreamMasker>();

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {}

  /** The part of `text` (with what the key held) that is safe to release now. */
  push(key: string, text: string): string {
    let masker = this.streams.get(key);
    if (masker === undefined) {
      masker = new StreamMasker(this.redactor, this.counts);
      this.streams.set(key, masker);
    }
    return masker.push(text);
  }

  /** Ends one stream: everything it held, masked. */
  release(key: string): string {
    const masker = this.streams.get(key);
    if (masker === undefined) return '';
    this.streams.delete(key);
    return masker.end();
  }

  /** Ends every stream whose key starts with `prefix`: `[key, rest]` for those that held something. */
  releaseWhere(prefix: string): [string, string][] {
    const out: [string, string][] = [];
    for (const key of [...this.streams.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const rest = this.release(key);
      if (rest !== '') out.push([key, rest]);
    }
    return out;
  }

  get size(): number {
    return this.streams.size;
  }
}
