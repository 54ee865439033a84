import type { MaskCounts } from './counts.js';
import { DeltaStreams } from './delta-streams.js';
import { maskJsonValue } from './json-value.js';
import type { Redactor } from './redactor.js';

type JsonEvent = Record<string, unknown>;

/** Events after which nothing more streams: everything still held goes out before them. */
const FINAL_TYPES: ReadonlySet<string> = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
  'error',
]);

/**
 * Masks the events of an OpenAI Responses API stream (https://platform.openai.com/docs/api-reference/responses-
 * streaming). Every `*.delta` event with a string `delta` (`response.output_text.delta`, `response.refusal.delta`,
 * `response.function_call_arguments.delta`, `response.reasoning_summary_text.delta`, `response.audio.transcript.
 * delta`...) is one piece of a stream keyed by its item, output, content and summary indexes: the pieces go through
 * one StreamMasker per stream, so `jane.doe@` + `example.com` is caught and a tool call's arguments never leak their
 * start. What a stream still holds goes out as one more delta event of its own type, just before the matching
 * `*.done` event, the item's `response.output_item.done`, a final event or the end of the stream. Every other field
 * and event is masked as a whole JSON value (the `*.done` events carry the whole text, masked the same way).
 */
export class ResponsesEventMasker {
  private readonly streams: DeltaStreams;
  /** Per stream key: the last delta event (without its delta), the shape of the release event. */
  private readonly templates = new Map<string, JsonEvent>();

  constructor(
    private readonly redactor: Redactor,
    private readonly counts: MaskCounts,
  ) {
    this.streams = new DeltaStreams(redactor, counts);
  }

  static handles(event: JsonEvent): boolean {
    return typeof event.type === 'string';
  }

  /** Release events that must go out before `event` (held text of streams it ends), then the masked event itself. */
  mask(event: JsonEvent): { before: JsonEvent[]; event: JsonEvent } {
    const type = event.type as string;
    if (type.endsWith('.delta') && typeof event.delta === 'string') {
      const { delta, ...rest } = event;
      maskJsonValue(rest, this.redactor, this.counts);
      const key = streamKey(event, type);
      this.templates.set(key, rest);
      return { before: [], event: { ...rest, delta: this.streams.push(key, delta) } };
    }
    let before: JsonEvent[] = [];
    if (FINAL_TYPES.has(type)) before = this.flush();
    else if (type === 'response.output_item.done') {
      const item = event.item as { id?: unknown } | undefined;
      before = this.releaseWhere(`${String(item?.id)}|${String(event.output_index)}|`);
    } else if (type.endsWith('.done'))
      before = this.release(streamKey(event, `${type.slice(0, -'.done'.length)}.delta`));
    return { before, event: maskJsonValue(event, this.redactor, this.counts) as JsonEvent };
  }

  /** Everything still held, as release events (the end of the stream). */
  flush(): JsonEvent[] {
    return this.releaseWhere('');
  }

  private release(key: string): JsonEvent[] {
    const rest = this.streams.release(key);
    const template = this.templates.get(key);
    this.templates.delete(key);
    return rest === '' || template === undefined ? [] : [{ ...template, delta: rest }];
  }

  private releaseWhere(prefix: string): JsonEvent[] {
    const out: JsonEvent[] = [];
    for (const [key, rest] of this.streams.releaseWhere(prefix)) {
      const template = this.templates.get(key);
      this.templates.delete(key);
      if (template !== undefined) out.push({ ...template, delta: rest });
    }
    return out;
  }
}

/** One stream per item, output, delta type, content part and summary part. */
function streamKey(event: JsonEvent, deltaType: string): string {
  return [event.item_id, event.output_index, deltaType, event.content_index, event.summary_index]
    .map((part) => String(part))
    .join('|');
}
