import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporaryDirectory } from '../../support/temp-dir.js';
import { countingResource, type McpGateway, serverRan, startMcpGateway } from './mcp-harness.js';

const POLICY = `
      - groups: [agents]
        targets: [echo]
        allow: [write]`;

describe('MCP bad input: clear JSON-RPC errors, no crash, recorded', () => {
  let dir: string;
  let countFile: string;
  let mcp: McpGateway;
  let url: string;
  let bearer: string;
  let sessionId: string;

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${bearer}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body,
    });
  const inSession = (body: string, headers: Record<string, string> = {}) =>
    post(body, { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18', ...headers });
  const rpc = (method: string, params: unknown = {}, id: number | string = 1) =>
    JSON.stringify({ jsonrpc: '2.0', id, method, params });

  before(async () => {
    dir = temporaryDirectory('gh-mcp-bad-');
    countFile = join(dir, 'calls.jsonl');
    mcp = await startMcpGateway(dir, countingResource(countFile, 'Echoes.', POLICY, '    maxMessageBytes: 4096'));
    url = `${mcp.mcpBase}/mcp/tools`;
    bearer = await mcp.token('agent-1', ['agents']);
    // The previous revision, spoken by hand.
    const init = await post(
      rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } }),
    );
    assert.equal(init.status, 200);
    const body = (await init.json()) as { result: { protocolVersion: string } };
    assert.equal(body.result.protocolVersion, '2025-06-18');
    sessionId = init.headers.get('mcp-session-id') as string;
    assert.match(sessionId, /^[0-9a-f-]{36}$/);
  });
  after(async () => mcp?.stop());

  it('answers 401 with the RFC 9728 metadata pointer, and serves the metadata', async () => {
    const missing = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(missing.status, 401);
    const header = missing.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(header)?.[1];
    assert.ok(metadataUrl, header);
    const bad = await post(rpc('ping'), { authorization: 'Bearer not-a-token' });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const metadata = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    assert.equal(metadata.resource, url);
    assert.deepEqual(metadata.authorization_servers, [mcp.issuer.issuer]);
  });

  it('refuses malformed JSON, batches, unknown methods and oversized messages with JSON-RPC errors', async () => {
    const broken = await inSession('{"jsonrpc": "2.0", "id": 1, "method": ');
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as { error: { code: number } }).error.code, -32700);

    const batch = await inSession(
      `[${rpc('tools/list')},${rpc('tools/call', { name: 'echo', arguments: { message: 'b' } }, 2)}]`,
    );
    assert.equal(batch.status, 400);
    const batchError = (await batch.json()) as { error: { code: number; message: string } };
    assert.equal(batchError.error.code, -32600);
    assert.match(batchError.error.message, /batch/);

    const noVersion = await inSession(JSON.stringify({ id: 3, method: 'ping' }));
    assert.equal(((await noVersion.json()) as { error: { code: number } }).error.code, -32600);

    const unknown = await inSession(rpc('tools/destroy_everything', {}, 4));
    const unknownError = (await unknown.json()) as { id: number; error: { code: number } };
    assert.deepEqual([unknownError.id, unknownError.error.code], [4, -32601]);

    const huge = await inSession(rpc('tools/call', { name: 'echo', arguments: { message: 'x'.repeat(10_000) } }, 5));
    assert.equal(huge.status, 413);

    const badParams = await inSession(rpc('tools/call', { name: 42 }, 6));
    assert.equal(((await badParams.json()) as { error: { code: number } }).error.code, -32602);

    const version = await inSession(rpc('ping', {}, 7), { 'mcp-protocol-version': '1999-01-01' });
    assert.equal(version.status, 400);

    const noSession = await post(rpc('tools/list', {}, 8));
    assert.equal(noSession.status, 400);

    assert.equal(serverRan(countFile), 0, 'nothing reached the server');
    // The gateway still works, in the same session.
    const ok = await inSession(rpc('tools/call', { name: 'echo', arguments: { message: 'fine' } }, 9));
    const okBody = (await ok.json()) as { result: { content: { text: string }[] } };
    assert.equal(okBody.result.content[0]?.text, 'fine');

    const events = (await mcp.events()).filter((e) => e.type === 'operation' && e.payload.unclassifiable !== undefined);
    const reasons = events.map((e) => String(e.payload.unclassifiable));
    for (const expected of [/not valid JSON/, /batch/, /unknown method/, /larger than/, /needs a string "name"/])
      assert.ok(
        reasons.some((r) => expected.test(r)),
        `recorded: ${expected}`,
      );
  });

  it("answers another caller's session id as unknown (404), records it, and leaves the session alone", async () => {
    const intruder = await mcp.token('mallory', ['agents']);
    const stolen = await inSession(rpc('tools/call', { name: 'echo', arguments: { message: 'as agent-1' } }, 10), {
      authorization: `Bearer ${intruder}`,
    });
    assert.equal(stolen.status, 404);
    assert.equal(((await stolen.json()) as { error: { code: number } }).error.code, -32008);
    const deleted = await fetch(url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${intruder}`, 'mcp-session-id': sessionId },
    });
    assert.equal(deleted.status, 404, 'nor can it end the session');
    const still = await inSession(rpc('ping', {}, 11));
    assert.equal(still.status, 200);
    const events = await mcp.events();
    const starts = events.filter((e) => e.type === 'session.start' && e.payload.subject === 'mallory');
    assert.ok(starts.length > 0, "the attempt is recorded in a session of the intruder's own");
    assert.ok(
      events.some(
        (e) =>
          e.type === 'operation' && starts.some((s) => s.sessionId === e.sessionId) && e.payload.verdict === 'deny',
      ),
    );
    assert.equal(serverRan(countFile, 'echo'), 1, 'only the legitimate call ran');
  });

  it('refuses initialize to a caller no rule speaks for, and a session to a token whose groups changed', async () => {
    const stranger = await mcp.token('stranger', ['visitors']);
    const init = await post(
      rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '0' } }),
      { authorization: `Bearer ${stranger}` },
    );
    const body = (await init.json()) as { error?: { code: number; message: string } };
    assert.equal(body.error?.code, -32003);
    assert.equal(init.headers.get('mcp-session-id'), null);
    // The same subject with other groups than at initialize: the session is not theirs any more.
    const regrouped = await mcp.token('agent-1', ['agents', 'auditors']);
    const changed = await inSession(rpc('ping', {}, 13), { authorization: `Bearer ${regrouped}` });
    assert.equal(changed.status, 404);
  });

  it('ends a session on DELETE; the id is then unknown', async () => {
    const deleted = await fetch(url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${bearer}`, 'mcp-session-id': sessionId },
    });
    assert.equal(deleted.status, 204);
    const after = await inSession(rpc('ping', {}, 12));
    assert.equal(after.status, 404);
  });
});
