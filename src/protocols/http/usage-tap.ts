import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { SseUsageTap, type TokenUsage, usageFromJson } from './providers/usage.js';

/** A response body with the usage the upstream reported in it, readable once the body has been consumed. */
export interface TappedResponse {
  readonly body: Readable;
  /** True when the body's bytes change (the gateway's usage addition is removed): drop `content-length`. */
  readonly rewritten: boolean;
  usage(): TokenUsage | undefined;
}

/**
 * Reads the usage of an inference response as it streams past, before masking sees it: SSE event by event
 * (`SseUsageTap`, which with `strip` also removes the usage chunk the gateway asked for on the caller's behalf), or
 * the whole JSON body (kept up to `jsonLimit` bytes, forwarded chunk by chunk meanwhile). A compressed body is not
 * read (the gateway asks for `identity`; an upstream that compresses anyway is charged its whole reservation) and
 * passes untouched.
 */
export function tapUsage(
  source: Readable,
  headers: IncomingHttpHeaders,
  strip: boolean,
  jsonLimit: number,
): TappedResponse | undefined {
  const coding = String(headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (coding !== 'identity' && coding !== '') return undefined;
  const contentType = String(headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('text/event-stream')) {
    const tap = new SseUsageTap(strip);
    return {
      body: Readable.from(tapSse(source, tap, strip), { objectMode: false }),
      rewritten: strip,
      usage: () => tap.usage,
    };
  }
  const kept: Buffer[] = [];
  let size = 0;
  let done = false;
  async function* tapJson(): AsyncGenerator<Buffer> {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= jsonLimit) kept.push(chunk);
      yield chunk;
    }
    done = true;
  }
  return {
    body: Readable.from(tapJson(), { objectMode: false }),
    rewritten: false,
    usage: () => (done && size <= jsonLimit ? usageFromJson(Buffer.concat(kept, size)) : undefined),
  };
}

async function* tapSse(source: Readable, tap: SseUsageTap, strip: boolean): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of source as AsyncIterable<Buffer>) {
    const out = tap.push(decoder.decode(chunk, { stream: true }));
    // Without stripping the caller gets the upstream's bytes exactly; the tap only watches.
    if (!strip) yield chunk;
    else if (out.length > 0) yield Buffer.from(out, 'utf8');
  }
  const rest = tap.push(decoder.decode()) + tap.end();
  if (strip && rest.length > 0) yield Buffer.from(rest, 'utf8');
}
