import type { MaskCounts } from './counts.js';
import type { Redactor } from './redactor.js';
import { StreamMasker } from './stream-masker.js';

/** A string value longer than this is masked as a stream instead of being held whole. */
const MAX_HELD_STRING = 1024 * 1024;
/** Characters that may appear outside strings in JSON (and JSON Lines): anything else means it is not JSON. */
const STRUCTURAL = /^[\s{}[\],:0-9eE+\-.truefalsn]*$/;
const SPECIAL = /["\\]/g;

/**
 * Masks every string value of a JSON (or JSON Lines) text arriving in chunks, nested at any depth, without parsing
 * the whole document: a small scanner tracks whether it is inside a string; each string is decoded, masked and
 * re-encoded (left byte-identical when nothing in it was found). Keys are strings too and are masked the same way.
 * If anything outside a string is not JSON syntax, the rest of the body is masked as plain text: fail safe.
 */
export class JsonMasker {
  private inString = false;
  /** Raw (still escaped) content of the current string, while it is held whole. */
  private raw = '';
  /** The string is longer than MAX_HELD_STRING: its decoded content streams through this masker. */
  private streaming: StreamMasker | undefined;
  private text: StreamMasker | undefined;
  /** The held raw content ends with a backslash whose escaped character has not arrived yet. */
  private escapePending = false;

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {}

  push(chunk: string): string {
    if (this.text) return this.text.push(chunk);
    let out = '';
    let at = 0;
    while (at < chunk.length) {
      if (!this.inString) {
        const quote = chunk.indexOf('"', at);
        const structural = chunk.slice(at, quote === -1 ? chunk.length : quote);
        if (!STRUCTURAL.test(structural)) {
          this.text = new StreamMasker(this.redactor, this.counts);
          return out + this.text.push(chunk.slice(at));
        }
        out += structural;
        if (quote === -1) break;
        this.inString = true;
        at = quote + 1;
        continue;
      }
      const close = this.closingQuote(chunk, at);
      if (close === -1) {
        this.raw += chunk.slice(at);
        if (this.raw.length > MAX_HELD_STRING) out += this.streamHeld();
        break;
      }
      this.raw += chunk.slice(at, close);
      out += this.finishString();
      this.inString = false;
      at = close + 1;
    }
    return out;
  }

  end(): string {
    if (this.text) return this.text.end();
    if (!this.inString) return '';
    // A truncated document: what is left of the unterminated string is masked as text.
    const rest = new StreamMasker(this.redactor, this.counts);
    const out = (this.streaming?.end() ?? '') + rest.push(this.raw) + rest.end();
    this.raw = '';
    return out;
  }

  /** Index of the unescaped `"` ending the current string in `chunk`, or -1. An escape may straddle chunks. */
  private closingQuote(chunk: string, from: number): number {
    let i = from;
    if (this.escapePending) {
      this.escapePending = false;
      i++;
    }
    SPECIAL.lastIndex = i;
    for (let m = SPECIAL.exec(chunk); m !== null; m = SPECIAL.exec(chunk)) {
      if (m[0] === '"') return m.index;
      if (m.index + 1 >= chunk.length) {
        this.escapePending = true;
        return -1;
      }
      SPECIAL.lastIndex = m.index + 2;
    }
    return -1;
  }

  private finishString(): string {
    const raw = this.raw;
    this.raw = '';
    if (this.streaming) {
      const masker = this.streaming;
      this.streaming = undefined;
      return `${encode(masker.push(decode(raw)))}${encode(masker.end())}"`;
    }
    const value = raw.includes('\\') ? decode(raw) : raw;
    const matches = this.redactor.find(value);
    if (matches.length === 0) return `"${raw}"`;
    return `"${encode(this.redactor.apply(value, matches, this.counts))}"`;
  }

  /** Switches the current string to streaming: emits its opening quote and the masked part decoded so far. */
  private streamHeld(): string {
    const safe = this.raw.length - (this.escapePending ? 1 : trailingEscapeLength(this.raw));
    const head = this.raw.slice(0, safe);
    this.raw = this.raw.slice(safe);
    const first = this.streaming === undefined;
    this.streaming ??= new StreamMasker(this.redactor, this.counts);
    return (first ? '"' : '') + encode(this.streaming.push(decode(head)));
  }
}

function decode(raw: string): string {
  return JSON.parse(`"${raw}"`) as string;
}

function encode(value: string): string {
  const quoted = JSON.stringify(value);
  return quoted.slice(1, -1);
}

function trailingBackslashes(text: string): number {
  let count = 0;
  while (count < text.length && text[text.length - 1 - count] === '\\') count++;
  return count;
}

/** Length of an incomplete `\uXXXX` escape (or a high surrogate waiting for its low half) ending raw content. */
function trailingEscapeLength(raw: string): number {
  const tail = /\\u(?:[dD][89abAB][0-9A-Fa-f]{2}|[0-9A-Fa-f]{0,3})$/.exec(raw.slice(-6));
  if (tail === null) return 0;
  const escapes = trailingBackslashes(raw.slice(0, raw.length - tail[0].length + 1)) % 2 === 1;
  return escapes ? tail[0].length : 0;
}
