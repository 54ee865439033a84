import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { MaskCounts } from './counts.js';
import { maskJsonValue } from './json-value.js';
import type { Redactor } from './redactor.js';
import { StreamMasker } from './stream-masker.js';

interface Choice {
  index?: number;
  finish_reason?: string | null;
  text?: unknown;
  delta?: { content?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}
interface Chunk {
  choices?: Choice[];
  [key: string]: unknown;
}

/**
 * Masks a Server-Sent Events stream of chat completions. The text of `choices[].delta.content` (and the legacy
 * `choices[].text`) is one stream per choice, spread over many events: each choice gets a StreamMasker, so a value
 * split across deltas is still caught, while each event is re-emitted at once with the text that is safe to release
 * (the held tail goes out with a later event, at the latest with the choice's `finish_reason`). Everything else in
 * an event is masked as a whole JSON value; events whose data is not JSON are masked as text. Output events are
 * well-formed: `data:` lines re-serialised, `event:`/`id:` fields and comments kept.
 */
export class SseMasker {
  private readonly parser: EventSourceParser;
  private readonly choices = new Map<number, StreamMasker>();
  private out = '';
  private last: Chunk | undefined;

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {
    this.parser = createParser({
      onEvent: (event) => this.onEvent(event),
      onComment: (comment) => {
        this.out += `:${comment}\n\n`;
      },
      onRetry: (retry) => {
        this.out += `retry: ${retry}\n\n`;
      },
    });
  }

  push(chunk: string): string {
    this.parser.feed(chunk);
    const out = this.out;
    this.out = '';
    return out;
  }

  end(): string {
    // A final event without its blank line is still an event.
    this.parser.feed('\n\n');
    this.flushChoices();
    const out = this.out;
    this.out = '';
    return out;
  }

  private onEvent(event: EventSourceMessage): void {
    let data = event.data;
    if (data.trim() === '[DONE]') {
      this.flushChoices();
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        parsed = undefined;
      }
      if (parsed !== null && typeof parsed === 'object') {
        data = JSON.stringify(this.maskChunk(parsed as Chunk));
      } else {
        data = this.redactor.mask(data, this.counts);
      }
    }
    this.emit(event, data);
  }

  private emit(event: { event?: string | undefined; id?: string | undefined }, data: string): void {
    let text = '';
    if (event.event !== undefined) text += `event: ${event.event}\n`;
    if (event.id !== undefined) text += `id: ${event.id}\n`;
    for (const line of data.split('\n')) text += `data: ${line}\n`;
    this.out += `${text}\n`;
  }

  private maskChunk(chunk: Chunk): Chunk {
    const streamed: { choice: Choice; field: 'content' | 'text'; value: string }[] = [];
    if (Array.isArray(chunk.choices)) {
      this.last = chunk;
      for (const choice of chunk.choices) {
        if (typeof choice.delta?.content === 'string') {
          streamed.push({ choice, field: 'content', value: choice.delta.content });
          delete choice.delta.content;
        } else if (typeof choice.text === 'string') {
          streamed.push({ choice, field: 'text', value: choice.text });
          delete choice.text;
        }
      }
    }
    maskJsonValue(chunk, this.redactor, this.counts);
    for (const { choice, field, value } of streamed) {
      const masker = this.maskerFor(choice.index ?? 0);
      let text = masker.push(value);
      if (choice.finish_reason) text += this.release(choice.index ?? 0);
      if (field === 'content') (choice.delta as { content?: string }).content = text;
      else choice.text = text;
    }
    // A choice that finishes in an event without text of its own still releases what it held.
    for (const choice of chunk.choices ?? []) {
      if (!choice.finish_reason || !this.choices.has(choice.index ?? 0)) continue;
      const rest = this.release(choice.index ?? 0);
      if (rest === '') continue;
      if (choice.delta !== undefined) choice.delta.content = rest;
      else choice.text = rest;
    }
    return chunk;
  }

  private maskerFor(index: number): StreamMasker {
    let masker = this.choices.get(index);
    if (masker === undefined) {
      masker = new StreamMasker(this.redactor, this.counts);
      this.choices.set(index, masker);
    }
    return masker;
  }

  private release(index: number): string {
    const masker = this.choices.get(index);
    if (masker === undefined) return '';
    this.choices.delete(index);
    return masker.end();
  }

  /** Held text of choices that never sent a finish_reason goes out in one synthetic event, before `[DONE]`. */
  private flushChoices(): void {
    for (const index of [...this.choices.keys()]) {
      const rest = this.release(index);
      if (rest === '') continue;
      const template = this.last ?? {};
      const usesText = template.choices?.some((c) => typeof c.text === 'string' && c.delta === undefined) ?? false;
      const choice = usesText
        ? { index, text: rest, finish_reason: null }
        : { index, delta: { content: rest }, finish_reason: null };
      const { usage: _usage, ...rest_of } = template;
      this.emit({}, JSON.stringify({ ...rest_of, choices: [choice] }));
    }
  }
}
