import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { temporaryDirectory } from '../../support/temp-dir.js';
import { type McpGateway, startMcpGateway } from './mcp-harness.js';

const require = createRequire(import.meta.url);
/** The servers' own entry points from npm, unchanged (their package `bin`). */
const FILESYSTEM = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');
const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

describe('MCP through the gateway in front of servers from npm: server-filesystem and server-everything (stdio)', () => {
  let dir: string;
  let files: string;
  let mcp: McpGateway;

  before(async () => {
    dir = temporaryDirectory('gh-mcp-npm-');
    files = join(dir, 'files');
    mkdirSync(join(files, 'out'), { recursive: true });
    writeFileSync(join(files, 'customers.txt'), 'Grace Hopper <grace.hopper@example.com>, card 5500 0000 0000 0004\n');
    mcp = await startMcpGateway(
      dir,
      `
  - name: fs
    protocol: mcp
    upstream: { transport: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(FILESYSTEM)}, ${JSON.stringify(files)}] }
    toolKinds: [{ tools: "read_*", kind: read }, { tools: "list_*", kind: read }]
    masking: {}
    policy:
      - groups: [analysts, writers]
        allow: [read]
      - groups: [writers]
        targets: [write_file]
        conditions: { path: { pattern: ${JSON.stringify(`${join(files, 'out')}/*`)} }, content: { present: true } }
        allow: [write]
  - name: everything
    protocol: mcp
    upstream: { transport: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(EVERYTHING)}, stdio] }
    policy:
      - groups: [analysts]
        targets: [echo, get-sum]
        allow: [write]
      - groups: [watchers]
        targets: [trigger-long-running-operation]
        allow: [write]
      - groups: [completers]
        targets: [completable-prompt]
        allow: [read]`,
    );
  });
  after(async () => mcp?.stop());

  it('filesystem: lists per group, reads with personal data masked, writes only where the condition allows', async () => {
    const analyst = await mcp.client('fs', 'analyst-1', ['analysts']);
    const tools = (await analyst.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes('read_text_file'));
    assert.ok(!tools.includes('write_file'), 'an analyst is not shown write_file');
    const writer = await mcp.client('fs', 'writer-1', ['writers']);
    assert.ok((await writer.listTools()).tools.some((t) => t.name === 'write_file'));

    const read = await analyst.callTool({ name: 'read_text_file', arguments: { path: join(files, 'customers.txt') } });
    const text = JSON.stringify(read);
    assert.match(text, /Grace Hopper/);
    assert.doesNotMatch(text, /grace\.hopper@example\.com/);
    assert.doesNotMatch(text, /5500 0000 0000 0004/);

    // Denied: an analyst writing anywhere, a writer outside out/. The files are never written.
    const outside = join(files, 'planted.txt');
    for (const [client, path] of [
      [analyst, join(files, 'out', 'a.txt')],
      [writer, outside],
      [writer, `${join(files, 'out')}/../planted2.txt`],
    ] as const) {
      const error = await client.callTool({ name: 'write_file', arguments: { path, content: 'x' } }).then(
        () => assert.fail(`writing ${path} ran`),
        (e: unknown) => e as McpError,
      );
      assert.ok(error instanceof McpError);
      assert.equal(error.code, -32003, path);
    }
    assert.equal(existsSync(join(files, 'out', 'a.txt')), false);
    assert.equal(existsSync(outside), false);
    assert.equal(existsSync(join(files, 'planted2.txt')), false);

    await writer.callTool({ name: 'write_file', arguments: { path: join(files, 'out', 'ok.txt'), content: 'fine' } });
    assert.equal(existsSync(join(files, 'out', 'ok.txt')), true);
  });

  it("everything: relays the server's progress notifications of a running call to the caller", async () => {
    const watcher = await mcp.client('everything', 'watcher-1', ['watchers']);
    const seen: { progress: number; total?: number }[] = [];
    const result = await watcher.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => seen.push({ progress: p.progress, ...(p.total === undefined ? {} : { total: p.total }) }) },
    );
    assert.match(JSON.stringify(result), /Steps: 3/);
    assert.deepEqual(seen, [
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ]);
    const events = await mcp.events();
    assert.ok(events.some((e) => e.type === 'operation.result' && e.payload.notifications === 3));
  });

  it('everything: completes prompt arguments for a caller who may get the prompt, and for no one else', async () => {
    const completer = await mcp.client('everything', 'completer-1', ['completers']);
    assert.ok(completer.getServerCapabilities()?.completions !== undefined, 'completions are offered');
    const ref = { type: 'ref/prompt' as const, name: 'completable-prompt' };
    const department = await completer.complete({ ref, argument: { name: 'department', value: 'E' } });
    assert.deepEqual(department.completion.values, ['Engineering']);
    // The context (arguments chosen so far) reaches the server: it narrows the names to that department.
    const name = await completer.complete({
      ref,
      argument: { name: 'name', value: '' },
      context: { arguments: { department: 'Sales' } },
    });
    assert.deepEqual(name.completion.values, ['David', 'Eve', 'Frank']);
    // An analyst may not get this prompt, so may not complete its arguments either.
    const analyst = await mcp.client('everything', 'analyst-3', ['analysts']);
    const error = await analyst.complete({ ref, argument: { name: 'department', value: 'E' } }).then(
      () => assert.fail('the completion ran'),
      (e: unknown) => e as McpError,
    );
    assert.equal(error.code, -32003);
    const events = await mcp.events();
    const completions = events.filter((e) => e.type === 'operation' && e.payload.action === 'completion/complete');
    assert.deepEqual(
      completions.map((e) => e.payload.verdict),
      ['allow', 'allow', 'deny'],
    );
  });

  it('everything: shows only the tools granted, runs them, refuses the rest', async () => {
    const analyst = await mcp.client('everything', 'analyst-2', ['analysts']);
    const tools = (await analyst.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['echo', 'get-sum']);
    const echo = await analyst.callTool({ name: 'echo', arguments: { message: 'through the gateway' } });
    assert.match(JSON.stringify(echo), /through the gateway/);
    const sum = await analyst.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    assert.match(JSON.stringify(sum), /5/);
    // get-env would show the server's environment: not granted, refused before the server.
    const error = await analyst.callTool({ name: 'get-env', arguments: {} }).then(
      () => assert.fail('get-env ran'),
      (e: unknown) => e as McpError,
    );
    assert.equal(error.code, -32003);
  });
});
