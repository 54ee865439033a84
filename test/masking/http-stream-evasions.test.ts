import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { systemClock } from '../../src/core/clock.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { startHttpGateway } from '../support/http-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-key-only-the-gateway-holds';
const EMAIL = 'jane.doe@example.com';
/** The stand-in streams in 4-character pieces: the email goes out as `jane`, `.doe`, `@exa`, `mple`, `.com`. */
const REPLY = `Sure, write to ${EMAIL} today.`;
const ARGUMENTS = JSON.stringify({ to: EMAIL, phone: '+1 415 555 2671', note: 'urgent' });
/** Bytes no UTF-8 decoder accepts, with an email after them. */
const NOT_UTF8 = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe]), Buffer.from(` ${EMAIL}`)]);

/** Raw SSE and binary answers the SDK would not produce: comments and ids carrying values, octet streams. */
function oddUpstream(): Server {
  return createServer((req, res) => {
    if (req.url?.endsWith('/sse')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`: debug owner ${EMAIL}\n\n`);
      res.write(`id: ${EMAIL}\nevent: note\ndata: {"ok":true}\n\n`);
      res.end('data: [DONE]\n\n');
    } else if (req.url?.endsWith('/octet')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('name,email\nJane,jane.doe@exa');
      res.end('mple.com\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(NOT_UTF8);
    }
  });
}

/**
 * Finding 6 on HTTP: the masking evasions of streamed answers, through a real Gateway, with the real `openai` SDK
 * against the stand-in model that streams the documented Responses API and chat tool-call events.
 */
describe('HTTP masking evasions: split deltas, tool-call arguments, SSE fields, binary bodies', () => {
  let standIn: OpenAiStandIn;
  let odd: Server;
  let gateway: Gateway;
  let base: string;
  let token: string;

  before(async () => {
    standIn = new OpenAiStandIn({
      apiKey: UPSTREAM_KEY,
      reply: () => REPLY,
      toolCall: (prompt) => (prompt.includes('tool') ? { name: 'send_email', arguments: ARGUMENTS } : undefined),
      pieceLength: 4,
    });
    const standInUrl = await standIn.start();
    odd = oddUpstream();
    odd.listen(0, '127.0.0.1');
    await once(odd, 'listening');
    const started = await startHttpGateway({
      dirPrefix: 'gh-http-evasions-',
      devIssuer: { keyFile: 'dev.jwk.json' },
      yaml: `
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${standInUrl}
    credential: { value: Bearer ${UPSTREAM_KEY} }
    policy: [{ groups: [agents], allow: [read] }]
    masking: {}
  - name: odd
    protocol: http
    pathPrefix: /odd
    target: http://127.0.0.1:${(odd.address() as AddressInfo).port}
    policy: [{ groups: [agents], allow: [read] }]
    masking: {}
`,
    });
    gateway = started.gateway;
    base = started.base;
    const issuer = await DevIssuer.open(started.loaded.config.identity.devIssuer, started.loaded.baseDir, systemClock);
    token = await issuer.mint({ subject: 'agent', groups: ['agents'], ttlMs: 600_000 });
  });

  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
    odd?.closeAllConnections();
    odd?.close();
  });

  const client = () => new OpenAI({ baseURL: `${base}/llm/v1`, apiKey: token, maxRetries: 0 });
  const tools = [
    {
      type: 'function' as const,
      name: 'send_email',
      parameters: { type: 'object', properties: { to: { type: 'string' } } },
      strict: false,
    },
  ];

  it('Responses API: output_text deltas split inside an email are joined for detection', async () => {
    const stream = await client().responses.create({ model: 'gpt-4o-mini', input: 'hello', stream: true });
    let deltas = '';
    let done = '';
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
      if (event.type === 'response.output_text.done') done = event.text;
    }
    assert.equal(deltas, 'Sure, write to [EMAIL] today.');
    assert.equal(done, deltas, 'the done event carries the same masked text');
    assert.equal(types.at(-1), 'response.completed');
    // The SDK's own accumulation (ResponseStream) agrees.
    const final = await client().responses.stream({ model: 'gpt-4o-mini', input: 'hello' }).finalResponse();
    const texts = final.output.flatMap((item) =>
      item.type === 'message' ? item.content.map((c) => (c.type === 'output_text' ? c.text : '')) : [],
    );
    assert.deepEqual(texts, ['Sure, write to [EMAIL] today.']);
    assert.ok(
      standIn.seen.some((r) => r.path === '/v1/responses'),
      'the stand-in answered',
    );
  });

  it('Responses API: function call arguments split across deltas do not leak their start', async () => {
    const stream = await client().responses.create({ model: 'gpt-4o-mini', input: 'use a tool', tools, stream: true });
    let deltas = '';
    let done = '';
    for await (const event of stream) {
      if (event.type === 'response.function_call_arguments.delta') deltas += event.delta;
      if (event.type === 'response.function_call_arguments.done') done = event.arguments;
    }
    assert.doesNotMatch(deltas, /jane|example|415|2671/);
    assert.deepEqual(JSON.parse(deltas), { to: '[EMAIL]', phone: '[PHONE]', note: 'urgent' });
    assert.equal(done, deltas);
  });

  it('chat completions: streamed tool_calls arguments do not leak their start', async () => {
    const stream = await client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'use a tool' }],
      tools: [{ type: 'function', function: { name: 'send_email', parameters: { type: 'object' } } }],
      stream: true,
    });
    let args = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) args += call.function?.arguments ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.doesNotMatch(args, /jane|example|415|2671/);
    assert.deepEqual(JSON.parse(args), { to: '[EMAIL]', phone: '[PHONE]', note: 'urgent' });
  });

  it('SSE comment lines and id fields are masked', async () => {
    const response = await fetch(`${base}/odd/sse`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.doesNotMatch(text, /jane|example\.com/);
    assert.match(text, /^: ?debug owner \[EMAIL\]\n\nevent: note\nid: \[EMAIL\]\ndata: \{"ok":true\}\n\n/);
  });

  it('application/octet-stream is scanned as text when it is UTF-8, and withheld when it is not', async () => {
    const octet = await fetch(`${base}/odd/octet`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(octet.status, 200);
    assert.equal(await octet.text(), 'name,email\nJane,[EMAIL]\n');
    const binary = await fetch(`${base}/odd/binary`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(binary.status, 500, 'withheld as an internal error, like any response that could not be masked');
    const body = Buffer.from(await binary.arrayBuffer()).toString('latin1');
    assert.doesNotMatch(body, /jane|example/);
    assert.match(body, /withheld/);
  });
});
