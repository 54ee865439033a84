import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { isObject, type JsonObject } from './json-body.js';
import type { ProviderCall } from './profile.js';

/** Tokens one call used, as the upstream reported them. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/** Streamed OpenAI calls that report usage only when asked (`stream_options.include_usage`). */
const USAGE_OPT_IN = new Set(['chat.completions', 'completions']);

/**
 * For a streamed chat completion whose caller did not ask for usage, asks the upstream for it: the body gains
 * `stream_options.include_usage: true`, and `stripUsageChunk` says the response must go through `SseUsageTap` with
 * stripping on, so the caller never sees the final usage-only chunk (nor the `usage: null` the option adds to every
 * other chunk). https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
 */
export function requestStreamUsage(
  call: ProviderCall,
  body: JsonObject,
): { body: JsonObject; stripUsageChunk: boolean } {
  if (!call.stream || !USAGE_OPT_IN.has(call.operation)) return { body, stripUsageChunk: false };
  const options = body.stream_options;
  if (isObject(options) && options.include_usage === true) return { body, stripUsageChunk: false };
  // A malformed stream_options is the upstream's to reject; it is forwarded as sent.
  if (options !== undefined && options !== null && !isObject(options)) return { body, stripUsageChunk: false };
  return { body: { ...body, stream_options: { ...(options ?? {}), include_usage: true } }, stripUsageChunk: true };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * Reads a `usage` object in any of the shapes the profiles' upstreams use: OpenAI chat/completions/embeddings
 * (`prompt_tokens`, `completion_tokens`, `total_tokens`), OpenAI responses and Anthropic (`input_tokens`,
 * `output_tokens`; Anthropic's cache reads and writes are input too).
 */
function readUsage(usage: unknown): TokenUsage | undefined {
  if (!isObject(usage)) return undefined;
  const openAi = 'prompt_tokens' in usage || 'completion_tokens' in usage;
  const input = openAi
    ? count(usage.prompt_tokens)
    : count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + count(usage.cache_read_input_tokens);
  const output = openAi ? count(usage.completion_tokens) : count(usage.output_tokens);
  const reported = count(usage.total_tokens);
  return { inputTokens: input, outputTokens: output, totalTokens: Math.max(reported, input + output) };
}

/** Usage from a whole (non-streamed) JSON response body; undefined when it carries none or is not JSON. */
export function usageFromJson(body: string | Buffer): TokenUsage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return undefined;
  }
  return isObject(parsed) ? readUsage(parsed.usage) : undefined;
}

/** Follows usage across the events of one stream (OpenAI chunks, OpenAI responses events, Anthropic messages). */
export class UsageAccumulator {
  private input = 0;
  private output = 0;
  private total = 0;
  private seen = false;

  /** Takes one event's parsed data; returns it for chaining. */
  observe(data: unknown): unknown {
    if (!isObject(data)) return data;
    const type = data.type;
    if (type === 'message_start' && isObject(data.message)) {
      // Anthropic: input (and the first output count) arrive with message_start; message_delta carries running totals.
      this.set(readUsage(data.message.usage));
    } else if (type === 'message_delta' && isObject(data.usage)) {
      const delta = data.usage;
      if ('input_tokens' in delta) this.input = readUsage(delta)?.inputTokens ?? this.input;
      this.output = count(delta.output_tokens);
      this.total = 0;
      this.seen = true;
    } else if (type === 'response.completed' && isObject(data.response)) {
      this.set(readUsage(data.response.usage));
    } else if (isObject(data.usage)) {
      this.set(readUsage(data.usage));
    }
    return data;
  }

  get usage(): TokenUsage | undefined {
    if (!this.seen) return undefined;
    return {
      inputTokens: this.input,
      outputTokens: this.output,
      totalTokens: Math.max(this.total, this.input + this.output),
    };
  }

  private set(usage: TokenUsage | undefined): void {
    if (!usage) return;
    this.input = usage.inputTokens;
    this.output = usage.outputTokens;
    this.total = usage.totalTokens;
    this.seen = true;
  }
}

/** The final chunk `include_usage` adds: no choices, only usage. */
function isUsageOnlyChunk(data: unknown): boolean {
  return isObject(data) && Array.isArray(data.choices) && data.choices.length === 0 && isObject(data.usage);
}

/**
 * Drops what `requestStreamUsage` added from one event's data: the usage-only chunk (returns undefined) and the
 * `usage: null` on other chunks. Data that is not a JSON object (`[DONE]`) passes unchanged.
 */
function stripAddedUsage(data: string, parsed: unknown): string | undefined {
  if (isUsageOnlyChunk(parsed)) return undefined;
  if (isObject(parsed) && Object.hasOwn(parsed, 'usage') && parsed.usage === null) {
    const { usage: _added, ...rest } = parsed;
    return JSON.stringify(rest);
  }
  return data;
}

/**
 * A streaming SSE stage, event by event, with the same push/end shape as the masking engine's SseMasker: it records
 * usage and, when `strip` is on, removes what the gateway asked the upstream to add. Without `strip` the text passes
 * through byte for byte.
 */
export class SseUsageTap {
  private readonly parser: EventSourceParser;
  private readonly accumulator = new UsageAccumulator();
  private out = '';

  constructor(private readonly strip: boolean) {
    this.parser = createParser({
      onEvent: (event) => this.onEvent(event),
      onComment: (comment) => {
        if (this.strip) this.out += `:${comment}\n\n`;
      },
      onRetry: (retry) => {
        if (this.strip) this.out += `retry: ${retry}\n\n`;
      },
    });
  }

  push(text: string): string {
    this.parser.feed(text);
    if (!this.strip) return text;
    const out = this.out;
    this.out = '';
    return out;
  }

  end(): string {
    this.parser.feed('\n\n');
    const out = this.strip ? this.out : '';
    this.out = '';
    return out;
  }

  get usage(): TokenUsage | undefined {
    return this.accumulator.usage;
  }

  private onEvent(event: EventSourceMessage): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      parsed = undefined;
    }
    this.accumulator.observe(parsed);
    if (!this.strip) return;
    const data = stripAddedUsage(event.data, parsed);
    if (data === undefined) return;
    let text = '';
    if (event.event !== undefined) text += `event: ${event.event}\n`;
    if (event.id !== undefined) text += `id: ${event.id}\n`;
    for (const line of data.split('\n')) text += `data: ${line}\n`;
    this.out += `${text}\n`;
  }
}
