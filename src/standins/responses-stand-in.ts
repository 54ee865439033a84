import type { ServerResponse } from 'node:http';
import { sendJson } from './stand-in-server.js';

/**
 * The stand-in's OpenAI Responses API (`POST /v1/responses`, https://platform.openai.com/docs/api-reference/
 * responses): a plain answer, or with `stream: true` the documented event sequence (`response.created`,
 * `response.output_item.added`, `response.content_part.added`, `response.output_text.delta` in small pieces,
 * `*.done` events, `response.completed` with usage), or for a function call `response.function_call_arguments.
 * delta` pieces. Every event is sent as `event: <type>` plus `data: <json>`, as the API sends them, so the real
 * `openai` SDK client (and its ResponseStream) reads it.
 */
export interface ResponsesStandInOptions {
  readonly reply?: (prompt: string) => string;
  readonly toolCall?: (prompt: string) => { readonly name: string; readonly arguments: string } | undefined;
  readonly pieceLength?: number;
  readonly streamDelayMs?: number;
}

function promptOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  const texts: string[] = [];
  for (const item of input as { role?: string; content?: unknown }[]) {
    if (item?.role !== 'user') continue;
    if (typeof item.content === 'string') texts.push(item.content);
    else if (Array.isArray(item.content))
      for (const part of item.content as { type?: string; text?: unknown }[])
        if (part?.type === 'input_text' && typeof part.text === 'string') texts.push(part.text);
  }
  return texts.at(-1) ?? '';
}

export async function respond(
  request: Record<string, unknown>,
  res: ServerResponse,
  options: ResponsesStandInOptions,
): Promise<void> {
  const prompt = promptOf(request.input);
  const model = typeof request.model === 'string' ? request.model : 'gpt-4o-mini';
  const tool = Array.isArray(request.tools) ? options.toolCall?.(prompt) : undefined;
  const text = options.reply ? options.reply(prompt) : `You said: ${prompt}`;
  const suffix = Math.random().toString(36).slice(2, 12);
  const id = `resp_${suffix}`;
  const itemId = tool ? `fc_${suffix}` : `msg_${suffix}`;
  const usage = {
    input_tokens: Math.ceil(prompt.length / 4) + 1,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: Math.ceil((tool?.arguments ?? text).length / 4),
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
  usage.total_tokens = usage.input_tokens + usage.output_tokens;
  const part = { type: 'output_text', text, annotations: [] as unknown[], logprobs: [] as unknown[] };
  const item = tool
    ? { id: itemId, type: 'function_call', status: 'completed', call_id: `call_${suffix}`, ...tool }
    : { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [part] };
  const response = (status: string, output: unknown[], withUsage: boolean) => ({
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    usage: withUsage ? usage : null,
    metadata: {},
  });
  if (request.stream !== true) return sendJson(res, 200, { ...response('completed', [item], true), output_text: text });

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let sequence = 0;
  const send = (type: string, fields: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`);
  const pieces = (value: string) => value.match(new RegExp(`.{1,${options.pieceLength ?? 8}}`, 'gs')) ?? [];
  const pause = () =>
    options.streamDelayMs ? new Promise((resolve) => setTimeout(resolve, options.streamDelayMs)) : undefined;
  send('response.created', { response: response('in_progress', [], false) });
  send('response.in_progress', { response: response('in_progress', [], false) });
  if (tool) {
    send('response.output_item.added', { output_index: 0, item: { ...item, arguments: '', status: 'in_progress' } });
    for (const piece of pieces(tool.arguments)) {
      await pause();
      send('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: piece });
    }
    send('response.function_call_arguments.done', {
      item_id: itemId,
      output_index: 0,
      name: tool.name,
      arguments: tool.arguments,
    });
  } else {
    send('response.output_item.added', {
      output_index: 0,
      item: { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    const at = { item_id: itemId, output_index: 0, content_index: 0 };
    send('response.content_part.added', { ...at, part: { ...part, text: '' } });
    for (const piece of pieces(text)) {
      await pause();
      send('response.output_text.delta', { ...at, delta: piece, logprobs: [] });
    }
    send('response.output_text.done', { ...at, text, logprobs: [] });
    send('response.content_part.done', { ...at, part });
  }
  send('response.output_item.done', { output_index: 0, item });
  send('response.completed', { response: response('completed', [item], true) });
  res.end();
}
