import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { AnthropicEventMasker } from './anthropic-events.js';
import type { MaskCounts } from './counts.js';
import { DeltaStreams } from './delta-streams.js';
import { maskJsonValue } from './json-value.js';
import type { Redactor } from './redactor.js';
import { ResponsesEventMasker } from './responses-events.js';

interface ToolCall {
  index?: number;
  function?: { arguments?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}
interface Delta {
  content?: unknown;
  tool_calls?: ToolCall[];
  [key: string]: unknown;
}
interface Choice {
  index?: number;
  finish_reason?: string | null;
  text?: unknown;
  delta?: Delta;
  [key: string]: unknown;
}
interface Chunk {
  choices?: Choice[];
  [key: string]: unknown;
}

/** Text fields of a chat delta that stream, each one stream per choice (`reasoning_content`: DeepSeek, vLLM). */
const STREAMED_DELTA_FIELDS = ['content', 'refusal', 'reasoning_content', 'reasoning'] as const;

/**
 * Masks a Server-Sent Events stream of chat completions or Responses API events. Chat: the text of
 * `choices[].delta.content` (and `refusal`, reasoning text, the legacy `choices[].text`) and each tool call's
 * `function.arguments` are streams spread over many events: each gets a StreamMasker (see DeltaStreams), so a value
 * split across deltas is still caught, while each event is re-emitted at once with the text that is safe to release
 * (the held tail goes out with a later event, at the latest with the choice's `finish_reason`). Responses API events
 * go to ResponsesEventMasker, Anthropic Messages events to AnthropicEventMasker. Everything else in an event is masked as a whole JSON value; events whose data is not
 * JSON are masked as text, and so are `event:` and `id:` fields and comment lines (they reach the client too).
 */
export class SseMasker {
  private readonly parser: EventSourceParser;
  private readonly chat: DeltaStreams;
  private readonly responses: ResponsesEventMasker;
  private readonly anthropic: AnthropicEventMasker;
  private out = '';
  private last: Chunk | undefined;
  /** Chat streams that used the legacy `text` field, by choice index. */
  private readonly legacyText = new Set<number>();

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {
    this.chat = new DeltaStreams(redactor, counts);
    this.responses = new ResponsesEventMasker(redactor, counts);
    this.anthropic = new AnthropicEventMasker(redactor, counts);
    this.parser = createParser({
      onEvent: (event) => this.onEvent(event),
      onComment: (comment) => {
        this.out += `:${this.redactor.mask(comment, this.counts).replace(/[\r\n]/g, ' ')}\n\n`;
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
    this.flushHeld();
    const out = this.out;
    this.out = '';
    return out;
  }

  private onEvent(event: EventSourceMessage): void {
    let data = event.data;
    if (data.trim() === '[DONE]') {
      this.flushHeld();
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        parsed = undefined;
      }
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const record = parsed as Record<string, unknown>;
        if (!Array.isArray(record.choices) && ResponsesEventMasker.handles(record)) {
          const masked = AnthropicEventMasker.handles(record)
            ? this.anthropic.mask(record)
            : this.responses.mask(record);
          for (const release of masked.before) this.emit({ event: String(release.type) }, JSON.stringify(release));
          data = JSON.stringify(masked.event);
        } else data = JSON.stringify(this.maskChunk(record as Chunk));
      } else if (parsed !== undefined) {
        data = JSON.stringify(maskJsonValue(parsed, this.redactor, this.counts));
      } else {
        data = this.redactor.mask(data, this.counts);
      }
    }
    this.emit(event, data);
  }

  private emit(event: { event?: string | undefined; id?: string | undefined }, data: string): void {
    let text = '';
    const field = (value: string) => this.redactor.mask(value, this.counts).replace(/[\r\n]/g, ' ');
    if (event.event !== undefined) text += `event: ${field(event.event)}\n`;
    if (event.id !== undefined) text += `id: ${field(event.id)}\n`;
    for (const line of data.split('\n')) text += `data: ${line}\n`;
    this.out += `${text}\n`;
  }

  private maskChunk(chunk: Chunk): Chunk {
    const streamed: { choice: Choice; key: string; set: (text: string) => void; value: string }[] = [];
    if (Array.isArray(chunk.choices)) {
      this.last = chunk;
      for (const choice of chunk.choices) {
        const index = choice.index ?? 0;
        const delta = choice.delta;
        if (delta !== undefined && delta !== null && typeof delta === 'object') {
          for (const field of STREAMED_DELTA_FIELDS) {
            const value = delta[field];
            if (typeof value !== 'string') continue;
            delete delta[field];
            streamed.push({ choice, key: `${index}|${field}`, value, set: (text) => (delta[field] = text) });
          }
          for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
            const fn = call?.function;
            if (fn === undefined || typeof fn.arguments !== 'string') continue;
            const value = fn.arguments;
            delete fn.arguments;
            streamed.push({
              choice,
              key: `${index}|tool|${call.index ?? 0}`,
              value,
              set: (text) => (fn.arguments = text),
            });
          }
        }
        if (typeof choice.text === 'string') {
          const value = choice.text;
          delete choice.text;
          this.legacyText.add(index);
          streamed.push({ choice, key: `${index}|text`, value, set: (text) => (choice.text = text) });
        }
      }
    }
    maskJsonValue(chunk, this.redactor, this.counts);
    for (const { key, value, set } of streamed) set(this.chat.push(key, value));
    // A choice that finishes releases everything it held, into this event.
    for (const choice of chunk.choices ?? []) {
      if (choice.finish_reason) this.releaseInto(choice, this.chat.releaseWhere(`${choice.index ?? 0}|`));
    }
    return chunk;
  }

  /** Appends released text to a choice: into the field it streamed in, tool call arguments by the call's index. */
  private releaseInto(choice: Choice, released: [string, string][]): void {
    for (const [key, rest] of released) {
      const [, field, toolIndex] = key.split('|') as [string, string, string | undefined];
      if (field === 'text') {
        choice.text = `${typeof choice.text === 'string' ? choice.text : ''}${rest}`;
        continue;
      }
      if (choice.delta === undefined || choice.delta === null) choice.delta = {};
      const delta = choice.delta;
      if (field === 'tool') {
        const index = Number(toolIndex);
        if (!Array.isArray(delta.tool_calls)) delta.tool_calls = [];
        const call = delta.tool_calls.find((c) => (c.index ?? 0) === index);
        if (call === undefined) delta.tool_calls.push({ index, function: { arguments: rest } });
        else {
          call.function ??= {};
          const before = call.function.arguments;
          call.function.arguments = `${typeof before === 'string' ? before : ''}${rest}`;
        }
        continue;
      }
      const before = delta[field];
      delta[field] = `${typeof before === 'string' ? before : ''}${rest}`;
    }
  }

  /** Held text of streams that never finished goes out in synthetic events, before `[DONE]` or the end. */
  private flushHeld(): void {
    for (const release of [...this.responses.flush(), ...this.anthropic.flush()])
      this.emit({ event: String(release.type) }, JSON.stringify(release));
    if (this.chat.size === 0) return;
    const byChoice = new Map<number, [string, string][]>();
    for (const [key, rest] of this.chat.releaseWhere('')) {
      const index = Number(key.split('|')[0]);
      byChoice.set(index, [...(byChoice.get(index) ?? []), [key, rest]]);
    }
    const { usage: _usage, choices: _choices, ...template } = this.last ?? {};
    for (const [index, released] of byChoice) {
      const choice: Choice = this.legacyText.has(index)
        ? { index, finish_reason: null }
        : { index, delta: {}, finish_reason: null };
      this.releaseInto(choice, released);
      this.emit({}, JSON.stringify({ ...template, choices: [choice] }));
    }
  }
}
