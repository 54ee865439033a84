// The benchmark's upstream: the official SDK's McpServer with one `echo` tool, over Streamable HTTP on PORT (one
// process of its own, so direct and gateway runs reach the same server), or over stdio with MCP_STDIO=1 (a child of
// whoever runs it: the bench's own client, or the gateway). Plain JS: it needs no compile step.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

function echoServer() {
  const mcp = new McpServer({ name: 'bench-echo', version: '1.0.0' });
  mcp.registerTool('echo', { description: 'Echoes.', inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: message }],
  }));
  return mcp;
}

// One MCP session per client (the gateway is one client; each direct client is another).
const transports = new Map();
const server = createServer(async (req, res) => {
  const id = req.headers['mcp-session-id'];
  let transport = typeof id === 'string' ? transports.get(id) : undefined;
  if (transport === undefined) {
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => transports.set(sid, transport),
    });
    await echoServer().connect(transport);
  }
  await transport.handleRequest(req, res);
});
if (process.env.MCP_STDIO === '1') await echoServer().connect(new StdioServerTransport());
else server.listen(Number(process.env.PORT), '127.0.0.1');
