import type { IncomingMessage, ServerResponse } from 'node:http';
import { respond } from './responses-stand-in.js';
import { readRequestText, StandInServer, sendJson } from './stand-in-server.js';

/**
 * A small OpenAI-compatible upstream for the quickstart, tests and benchmarks, where no real model can run. It follows
 * the documented shapes of /v1/chat/completions (plain and `stream: true` Server-Sent Events, `stream_options.
 * include_usage`, streamed tool calls), /v1/responses (see responses-stand-in.ts), /v1/embeddings and /v1/models, and insists on its own API key, so a test can prove the gateway
 * injected the resource credential and never forwarded the caller's token.
 */
export interface StandInOptions {
  readonly apiKey: string;
  readonly host?: string;
  readonly port?: number;
  /** Pause between streamed chunks, to make streaming observable. */
  readonly streamDelayMs?: number;
  /** Text the model "answers"; by default it repeats the last user message. */
  readonly reply?: (prompt: string) => string;
  /** When the request offers tools and this returns a call, the model "calls" it instead of answering in text. */
  readonly toolCall?: (prompt: string) => { readonly name: string; readonly arguments: string } | undefined;
  /** Characters per streamed piece (8 by default): small pieces split values across events. */
  readonly pieceLength?: number;
}

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export class OpenAiStandIn extends StandInServer {
  readonly seen: SeenRequest[] = [];
  /** Keep only the last few requests' details: benchmarks send hundreds of thousands. */
  private readonly keep = 1_000;
  requestCount = 0;

  constructor(private readonly options: StandInOptions) {
    super(options);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readRequestText(req);
    const path = (req.url ?? '/').split('?')[0] as string;
    this.requestCount++;
    this.seen.push({
      method: req.method ?? '',
      path,
      authorization: req.headers.authorization,
      headers: req.headers,
      body,
    });
    if (this.seen.length > this.keep) this.seen.shift();

    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      return json(res, 401, {
        error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
      });
    }
    const route = `${req.method} ${path}`;
    if (route === 'GET /v1/models') {
      return json(res, 200, {
        object: 'list',
        data: [{ id: 'gpt-4o-mini', object: 'model', created: 1_700_000_000, owned_by: 'stand-in' }],
      });
    }
    if (route === 'GET /v1/ping') return json(res, 200, { ok: true });
    let request: Record<string, unknown>;
    try {
      request = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      return json(res, 400, {
        error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' },
      });
    }
    if (route === 'POST /v1/chat/completions') return this.chat(request, res);
    if (route === 'POST /v1/embeddings') return this.embeddings(request, res);
    if (route === 'POST /v1/responses') return respond(request, res, this.options);
    return json(res, 404, { error: { message: `Unknown request URL: ${route}`, type: 'invalid_request_error' } });
  }

  private async chat(request: Record<string, unknown>, res: ServerResponse): Promise<void> {
    const messages = Array.isArray(request.messages)
      ? (request.messages as { role?: string; content?: unknown }[])
      : [];
    const prompt = String([...messages].reverse().find((m) => m.role === 'user')?.content ?? '');
    const text = this.options.reply ? this.options.reply(prompt) : `You said: ${prompt}`;
    const tool = Array.isArray(request.tools) ? this.options.toolCall?.(prompt) : undefined;
    const model = typeof request.model === 'string' ? request.model : 'gpt-4o-mini';
    const id = `chatcmpl-${Math.random().toString(36).slice(2, 12)}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = {
      prompt_tokens: Math.ceil(prompt.length / 4) + 1,
      completion_tokens: Math.ceil(text.length / 4),
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const toolCallId = `call_${id.slice(9)}`;
    if (request.stream !== true) {
      const message = tool
        ? {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: toolCallId, type: 'function', function: { name: tool.name, arguments: tool.arguments } },
            ],
          }
        : { role: 'assistant', content: text };
      const finish = tool ? 'tool_calls' : 'stop';
      return json(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    const pieces = (value: string) => value.match(new RegExp(`.{1,${this.options.pieceLength ?? 8}}`, 'gs')) ?? [];
    const pause = () =>
      this.options.streamDelayMs
        ? new Promise((resolve) => setTimeout(resolve, this.options.streamDelayMs))
        : undefined;
    if (tool) {
      // As the API streams a call: id, type and name first, then the arguments in pieces, each tagged by index.
      send(
        chunk(
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ index: 0, id: toolCallId, type: 'function', function: { name: tool.name, arguments: '' } }],
          },
          null,
        ),
      );
      for (const piece of pieces(tool.arguments)) {
        await pause();
        send(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null));
      }
      send(chunk({}, 'tool_calls'));
    } else {
      send(chunk({ role: 'assistant', content: '' }, null));
      for (const piece of pieces(text)) {
        await pause();
        send(chunk({ content: piece }, null));
      }
      send(chunk({}, 'stop'));
    }
    const streamOptions = request.stream_options as { include_usage?: boolean } | undefined;
    if (streamOptions?.include_usage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
    res.end('data: [DONE]\n\n');
  }

  private embeddings(request: Record<string, unknown>, res: ServerResponse): void {
    const inputs = Array.isArray(request.input) ? request.input : [request.input];
    const data = inputs.map((input, index) => ({
      object: 'embedding',
      index,
      embedding: Array.from({ length: 8 }, (_, i) => Number(Math.sin(String(input).length + i).toFixed(6))),
    }));
    const tokens = inputs.reduce<number>((sum, input) => sum + Math.ceil(String(input).length / 4), 0);
    json(res, 200, {
      object: 'list',
      data,
      model: request.model ?? 'text-embedding-3-small',
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }
}

const json = sendJson;
