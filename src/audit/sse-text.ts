import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface StreamText {
  /** The assistant's text as the caller saw it accumulate: every delta of choice 0 joined in order. */
  readonly text: string;
  /** Number of `data:` events, including `[DONE]`. */
  readonly events: number;
  readonly model?: string;
  readonly finishReason?: string;
  /** The stream ended with `[DONE]` (or Anthropic's `message_stop`). */
  readonly complete: boolean;
}

/**
 * Reassembles a server-sent-events body of streamed chat completions into the final text: OpenAI-style chunks
 * (`choices[].delta.content`) and Anthropic-style events (`delta.text`). Events that are not JSON are skipped.
 */
export function reassembleStream(body: string): StreamText {
  const parts: string[] = [];
  let events = 0;
  let model: string | undefined;
  let finishReason: string | undefined;
  let complete = false;
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      events++;
      if (message.data === '[DONE]') {
        complete = true;
        return;
      }
      let chunk: StreamChunk;
      try {
        chunk = JSON.parse(message.data) as StreamChunk;
      } catch {
        return;
      }
      if (typeof chunk !== 'object' || chunk === null) return;
      if (typeof chunk.model === 'string') model ??= chunk.model;
      for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
        if ((choice?.index ?? 0) !== 0) continue;
        const content = choice?.delta?.content;
        if (typeof content === 'string') parts.push(content);
        if (typeof choice?.finish_reason === 'string') finishReason = choice.finish_reason;
      }
      if (chunk.type === 'content_block_delta' && typeof chunk.delta?.text === 'string') parts.push(chunk.delta.text);
      if (chunk.type === 'message_stop') complete = true;
    },
  });
  parser.feed(body);
  // A stream cut by the capture limit may end mid-event; what was whole is kept.
  return {
    text: parts.join(''),
    events,
    ...(model !== undefined ? { model } : {}),
    ...(finishReason !== undefined ? { finishReason } : {}),
    complete,
  };
}

interface StreamChunk {
  readonly type?: string;
  readonly model?: string;
  readonly choices?: readonly {
    readonly index?: number;
    readonly delta?: { readonly content?: unknown };
    readonly finish_reason?: unknown;
  }[];
  readonly delta?: { readonly text?: unknown };
}

export function isEventStream(contentType: string | undefined): boolean {
  return contentType !== undefined && /^text\/event-stream\b/i.test(contentType);
}
