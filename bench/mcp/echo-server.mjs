// The benchmark's upstream: the official SDK's McpServer with one `echo` tool, over Streamable HTTP on PORT. One
// process of its own, so direct and gateway runs reach the same server. Plain JS: it needs no compile step.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

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
    const mcp = new McpServer({ name: 'bench-echo', version: '1.0.0' });
    mcp.registerTool('echo', { description: 'Echoes.', inputSchema: { message: z.string() } }, async ({ message }) => ({
      content: [{ type: 'text', text: message }],
    }));
    await mcp.connect(transport);
  }
  await transport.handleRequest(req, res);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
