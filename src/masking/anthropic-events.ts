import type { MaskCounts } from './counts.js';
import { DeltaStreams } from './delta-streams.js';
import { maskJsonValue } from './json-value.js';
import type { Redactor } from './redactor.js';

type JsonEvent = Record<string, unknown>;

/** The event types of an Anthropic Messages stream (https://docs.anthropic.com/en/docs/build-with-claude/streaming). */
const MESSAGE_EVENTS: ReadonlySet<string> = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
]);

/** The text field of each streamed delta type: text, a tool call's partial JSON input, thinking. */
const DELTA_TEXT: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  text_delta: 'text',
  input_json_delta: 'partial_json',
  thinking_delta: 'thinking',
});

/**
 * Masks the events of an Anthropic Messages stream. The text of `content_block_delta` events (`text_delta`, a tool
 * call's `input_json_delta`, `thinking_delta`) is one stream per content block: the pieces go through one
 * StreamMasker per block, so a value split across events is still caught and a tool call's input never leaks its
 * start. What a block still holds goes out as one more `content_block_delta` just before its `content_block_stop`
 * (or before `message_delta`/`message_stop`, or at the end). Everything else is masked as a whole JSON value.
 */
export class AnthropicEventMasker {
  private readonly streams: DeltaStreams;

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {
    this.streams = new DeltaStreams(redactor, counts);
  }

  static handles(event: JsonEvent): boolean {
    return typeof event.type === 'string' && MESSAGE_EVENTS.has(event.type);
  }

  mask(event: JsonEvent): { before: JsonEvent[]; event: JsonEvent } {
    const delta = event.delta as Record<string, unknown> | undefined;
    if (event.type === 'content_block_delta' && delta !== null && typeof delta === 'object') {
      const deltaType = String(delta.type);
      const field = DELTA_TEXT[deltaType];
      const value = field === undefined ? undefined : delta[field];
      if (field !== undefined && typeof value === 'string') {
        const { [field]: _text, ...rest } = delta;
        const masked = maskJsonValue({ ...event, delta: rest }, this.redactor, this.counts) as JsonEvent;
        (masked.delta as Record<string, unknown>)[field] = this.streams.push(
          `${String(event.index)}|${deltaType}`,
          value,
        );
        return { before: [], event: masked };
      }
    }
    let before: JsonEvent[] = [];
    if (event.type === 'content_block_stop') before = this.releaseWhere(`${String(event.index)}|`);
    else if (event.type === 'message_delta' || event.type === 'message_stop') before = this.flush();
    return { before, event: maskJsonValue(event, this.redactor, this.counts) as JsonEvent };
  }

  flush(): JsonEvent[] {
    return this.releaseWhere('');
  }

  private releaseWhere(prefix: string): JsonEvent[] {
    return this.streams.releaseWhere(prefix).map(([key, rest]) => {
      const [index, deltaType] = key.split('|') as [string, string];
      const field = DELTA_TEXT[deltaType] as string;
      return { type: 'content_block_delta', index: Number(index), delta: { type: deltaType, [field]: rest } };
    });
  }
}
