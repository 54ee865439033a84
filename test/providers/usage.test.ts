import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { serializeBody } from '../../src/protocols/http/providers/json-body.js';
import { classifyCall, profileFor } from '../../src/protocols/http/providers/registry.js';
import {
  requestStreamUsage,
  SseUsageTap,
  type TokenUsage,
  usageFromJson,
} from '../../src/protocols/http/providers/usage.js';
import { readBodyLimited } from '../../src/protocols/http/request-body.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';

const KEY = 'sk-stand-in';

describe('inference usage', () => {
  let standIn: OpenAiStandIn;
  let proxy: Server;
  let base: string;
  const recorded: (TokenUsage | undefined)[] = [];

  before(async () => {
    standIn = new OpenAiStandIn({ apiKey: KEY, streamDelayMs: 1 });
    const upstream = await standIn.start();
    // The response-side seam: classify, ask for usage, relay the stream through the tap, record what it saw.
    proxy = createServer(async (req, res) => {
      const raw = await readBodyLimited(req, 1 << 20);
      const request = {
        method: 'POST',
        segments: ['v1', 'chat', 'completions'],
        query: new URLSearchParams(),
        targetHost: '',
      };
      const { call, body } = classifyCall(profileFor('openai'), request, raw);
      const { body: forwarded, stripUsageChunk } = requestStreamUsage(call, body ?? {});
      const response = await fetch(`${upstream}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: serializeBody(forwarded, 1 << 20),
      });
      res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? '' });
      if (!call.stream) {
        const text = await response.text();
        recorded.push(usageFromJson(text));
        return res.end(text);
      }
      const tap = new SseUsageTap(stripUsageChunk);
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        res.write(tap.push(decoder.decode(chunk, { stream: true })));
      }
      res.end(tap.end());
      recorded.push(tap.usage);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    proxy?.close();
    await standIn?.stop();
  });

  it('plain call: usage read from the JSON response', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: base });
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    assert.deepEqual(recorded.at(-1), {
      inputTokens: answer.usage?.prompt_tokens,
      outputTokens: answer.usage?.completion_tokens,
      totalTokens: answer.usage?.total_tokens,
    });
  });

  it('streamed call without include_usage: the upstream is asked, the caller never sees the usage chunk', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: base });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'a longer prompt for several chunks' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length > 3);
    assert.ok(
      chunks.every((c) => c.choices.length === 1 && !('usage' in c)),
      'no usage chunk and no usage field',
    );
    assert.match(standIn.seen.at(-1)?.body ?? '', /"stream_options":\{"include_usage":true\}/);
    const usage = recorded.at(-1);
    assert.ok(usage && usage.totalTokens > 0 && usage.totalTokens === usage.inputTokens + usage.outputTokens);
  });

  it('streamed call that asked for usage: the caller gets it, untouched', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: base });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'count me' }],
    });
    let last: OpenAI.Chat.Completions.ChatCompletionChunk | undefined;
    for await (const chunk of stream) last = chunk;
    assert.deepEqual(last?.choices, []);
    assert.equal(last?.usage?.total_tokens, recorded.at(-1)?.totalTokens);
  });

  it('the tap works event by event across arbitrary splits, and passes bytes through when not stripping', () => {
    const text =
      'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n' +
      ': keep-alive\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n' +
      'data: [DONE]\n\n';
    for (const size of [1, 7, 64, text.length]) {
      const strip = new SseUsageTap(true);
      const keep = new SseUsageTap(false);
      let stripped = '';
      let kept = '';
      for (let i = 0; i < text.length; i += size) {
        stripped += strip.push(text.slice(i, i + size));
        kept += keep.push(text.slice(i, i + size));
      }
      stripped += strip.end();
      kept += keep.end();
      assert.equal(stripped, 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n:keep-alive\n\ndata: [DONE]\n\n');
      assert.equal(kept, text);
      assert.deepEqual(strip.usage, { inputTokens: 3, outputTokens: 2, totalTokens: 5 });
      assert.deepEqual(keep.usage, strip.usage);
    }
  });

  it('reads Anthropic message_start / message_delta usage and OpenAI responses events', () => {
    const anthropic =
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}\n\n' +
      'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"hi"}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}\n\n';
    const tap = new SseUsageTap(false);
    tap.push(anthropic);
    tap.end();
    assert.deepEqual(tap.usage, { inputTokens: 30, outputTokens: 15, totalTokens: 45 });
    const responses = new SseUsageTap(false);
    responses.push(
      'event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":4,"output_tokens":6,"total_tokens":10}}}\n\n',
    );
    assert.deepEqual(responses.usage, { inputTokens: 4, outputTokens: 6, totalTokens: 10 });
    assert.deepEqual(usageFromJson('{"usage":{"input_tokens":7,"output_tokens":3}}'), {
      inputTokens: 7,
      outputTokens: 3,
      totalTokens: 10,
    });
    assert.deepEqual(usageFromJson('{"usage":{"prompt_tokens":9,"total_tokens":9}}'), {
      inputTokens: 9,
      outputTokens: 0,
      totalTokens: 9,
    });
    assert.equal(usageFromJson('not json'), undefined);
  });

  it('asks for usage only on streamed chat/completions calls that did not', () => {
    const profile = profileFor('openai');
    const request = {
      method: 'POST',
      segments: ['v1', 'chat', 'completions'],
      query: new URLSearchParams(),
      targetHost: '',
    };
    const cases: [string, boolean, unknown][] = [
      ['{"stream":true}', true, { include_usage: true }],
      [
        '{"stream":true,"stream_options":{"include_obfuscation":false}}',
        true,
        { include_obfuscation: false, include_usage: true },
      ],
      ['{"stream":true,"stream_options":{"include_usage":true}}', false, { include_usage: true }],
      ['{"stream":false}', false, undefined],
    ];
    for (const [raw, strip, options] of cases) {
      const { call, body } = classifyCall(profile, request, Buffer.from(raw));
      const result = requestStreamUsage(call, body ?? {});
      assert.equal(result.stripUsageChunk, strip, raw);
      assert.deepEqual(result.body.stream_options, options, raw);
    }
    const embeddings = classifyCall(
      profile,
      { ...request, segments: ['v1', 'embeddings'] },
      Buffer.from('{"stream":true}'),
    );
    assert.equal(requestStreamUsage(embeddings.call, embeddings.body ?? {}).stripUsageChunk, false);
  });
});
