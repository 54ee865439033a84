import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { ReportBuilder } from '../../src/audit/report.js';
import { type AuditEvent, unfoldResults } from '../../src/core/audit-event.js';
import { systemClock } from '../../src/core/clock.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { startHttpGateway } from '../support/http-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-key-only-the-gateway-holds';
const EMAIL = 'mary.jones@example.com';
const PHONE = '+1 415 555 2671';
const CARD = '4242424242424242';
/** What the stand-in model answers: the email straddles the 8-character deltas of its stream. */
const REPLY = `Sure: write to ${EMAIL} or call ${PHONE}; the card on file is ${CARD}.`;

/** An upstream whose answers cannot be masked: a corrupt gzip body and an unknown content coding. */
function brokenUpstream(): Server {
  return createServer((req, res) => {
    const raw = Buffer.from(JSON.stringify({ email: EMAIL }));
    if (req.url?.includes('corrupt')) {
      const gz = gzipSync(raw);
      gz[gz.length - 6] = (gz[gz.length - 6] as number) ^ 0xff; // break the CRC
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gz);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd' });
    res.end(raw);
  });
}

describe('HTTP bodies are masked through the gateway (openai SDK, stand-in model)', () => {
  let standIn: OpenAiStandIn;
  let broken: Server;
  let gateway: Gateway;
  let base: string;
  let issuer: DevIssuer;

  before(async () => {
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY, reply: () => REPLY });
    const standInUrl = await standIn.start();
    broken = brokenUpstream();
    broken.listen(0, '127.0.0.1');
    await once(broken, 'listening');
    const started = await startHttpGateway({
      dirPrefix: 'gh-http-masking-',
      devIssuer: { keyFile: 'dev.jwk.json' },
      yaml: `
masking: { tokenKey: http-masking-token-key-0123456789 }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${standInUrl}
    credential: { value: Bearer ${UPSTREAM_KEY} }
    policy:
      - groups: [agents]
        allow: [read]
    masking:
      styles: { card: partial }
      exempt: [auditors]
  - name: broken
    protocol: http
    pathPrefix: /broken
    target: http://127.0.0.1:${(broken.address() as AddressInfo).port}
    policy:
      - groups: [agents]
        allow: [read]
    masking: {}
`,
    });
    gateway = started.gateway;
    base = started.base;
    issuer = await DevIssuer.open(started.loaded.config.identity.devIssuer, started.loaded.baseDir, systemClock);
  });

  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
    broken?.closeAllConnections();
    broken?.close();
  });

  const client = async (groups: string[]) =>
    new OpenAI({
      baseURL: `${base}/llm/v1`,
      apiKey: await issuer.mint({ subject: 'job', groups, ttlMs: 600_000 }),
      maxRetries: 0,
    });

  async function events(): Promise<AuditEvent[]> {
    await gateway.services.recorder.flush();
    // As readers see them: an operation may carry its result (see `unfoldResult`).
    return unfoldResults(await gateway.services.store.readEvents(0, 10_000));
  }

  it('a plain completion comes back masked, and the model received a masked prompt', async () => {
    const openai = await client(['agents']);
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `My email is ${EMAIL} and my phone ${PHONE}` }],
    });
    assert.equal(
      completion.choices[0]?.message.content,
      'Sure: write to [EMAIL] or call [PHONE]; the card on file is ****4242.',
    );
    const seen = standIn.seen.at(-1);
    assert.ok(seen !== undefined && !seen.body.includes(EMAIL) && !seen.body.includes(PHONE));
    assert.match(seen.body, /My email is \[EMAIL\] and my phone \[PHONE\]/);
    assert.equal(JSON.parse(seen.body).model, 'gpt-4o-mini');
  });

  it('a streamed completion is masked across deltas, and every event stays well-formed', async () => {
    const openai = await client(['agents']);
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let finish: string | null | undefined;
    let usage = false;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = true;
    }
    const text = deltas.join('');
    assert.equal(text, 'Sure: write to [EMAIL] or call [PHONE]; the card on file is ****4242.');
    assert.ok(deltas.length > 3, 'still streamed in several deltas');
    for (const delta of deltas) assert.ok(!delta.includes('mary') && !delta.includes('4242424'));
    assert.equal(finish, 'stop');
    assert.ok(usage);
  });

  it('an exempt group sees the raw answer, and the record notes the exemption', async () => {
    const openai = await client(['agents', 'auditors']);
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'raw please' }],
    });
    assert.equal(completion.choices[0]?.message.content, REPLY);
    const operation = (await events()).filter((e) => e.type === 'operation').at(-1);
    assert.deepEqual((operation?.payload as { masking?: unknown } | undefined)?.masking, {
      exempt: true,
      group: 'auditors',
    });
  });

  it('audit records hold masked bodies only, with per-type counts', async () => {
    const all = await events();
    const results = all.filter((e) => e.type === 'operation.result' && (e.payload as { masked?: unknown }).masked);
    assert.ok(results.length >= 2);
    assert.deepEqual((results[0]?.payload as { masked?: unknown } | undefined)?.masked, {
      email: 1,
      phone: 1,
      card: 1,
    });
    const operations = all.filter(
      (e) => e.type === 'operation' && (e.payload as { maskedRequest?: unknown }).maskedRequest,
    );
    assert.deepEqual((operations[0]?.payload as { maskedRequest?: unknown } | undefined)?.maskedRequest, {
      email: 1,
      phone: 1,
    });
    // The report counts both: what the answers had masked, and what the prompts had masked before the model saw it.
    const report = new ReportBuilder(0, Date.now() + 1, new Map());
    for (const event of all) report.add(event);
    const agents = report.build().access.find((row) => row.resource === 'llm' && row.protocol === 'http');
    assert.ok((agents?.masked.email ?? 0) >= 1 && (agents?.masked.card ?? 0) >= 1, JSON.stringify(agents));
    assert.ok((agents?.maskedInRequests.email ?? 0) >= 1 && (agents?.maskedInRequests.phone ?? 0) >= 1);
    const exempt = new Set(
      all
        .filter((e) => e.type === 'operation' && (e.payload as { masking?: { exempt?: boolean } }).masking?.exempt)
        .map((e) => (e.payload as { seq: number }).seq),
    );
    for (const event of all) {
      if (exempt.has((event.payload as { seq?: number }).seq ?? -1)) continue;
      const text = JSON.stringify(event.payload);
      assert.ok(!text.includes(EMAIL) && !text.includes(CARD), `raw value recorded: ${text.slice(0, 200)}`);
    }
  });

  it('fails closed: a body that cannot be masked is an error for the caller, never the raw data', async () => {
    const token = await issuer.mint({ subject: 'job', groups: ['agents'], ttlMs: 600_000 });
    for (const path of ['/broken/v1/models/corrupt', '/broken/v1/models/zstd']) {
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(
        async (r) => ({ status: r.status, body: await r.text() }),
        (error: Error) => ({ status: 0, body: error.message }),
      );
      assert.ok(response.status >= 500 || response.status === 0, `${path}: ${response.status}`);
      assert.ok(!response.body.includes(EMAIL), `${path} leaked: ${response.body}`);
    }
  });
});
