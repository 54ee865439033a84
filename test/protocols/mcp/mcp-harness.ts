import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseConfig } from '../../../src/config/load.js';
import { type AuditEvent, unfoldResults } from '../../../src/core/audit-event.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { createLogger } from '../../../src/gateway/logger.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';

export const AUDIENCE = 'https://gatehouse.test';
const COUNTING_SERVER = join(import.meta.dirname, '..', '..', 'fixtures', 'mcp', 'counting-server.mjs');

/** The `resources:` entry of the counting server, run by the gateway as a stdio child. */
export function countingResource(countFile: string, echoDescription: string, policy: string, extra = ''): string {
  return `
  - name: tools
    protocol: mcp
    upstream:
      transport: stdio
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(COUNTING_SERVER)}]
      env: { COUNT_FILE: ${JSON.stringify(countFile)}, ECHO_DESCRIPTION: ${JSON.stringify(echoDescription)} }
${extra}
    policy:
${policy}`;
}

/** Tool calls the counting server ran, by tool name, read from its own file. */
export function serverRan(countFile: string, tool?: string): number {
  let text: string;
  try {
    text = readFileSync(countFile, 'utf8');
  } catch {
    return 0;
  }
  const lines = text.split('\n').filter((line) => line.length > 0);
  return tool === undefined ? lines.length : lines.filter((line) => JSON.parse(line).tool === tool).length;
}

export interface McpGateway {
  readonly gateway: Gateway;
  readonly issuer: LocalIssuer;
  readonly mcpBase: string;
  readonly adminBase: string;
  token(subject: string, groups: readonly string[]): Promise<string>;
  /** The SDK's client, connected through the gateway to resource `name` with a token of this caller. */
  client(name: string, subject: string, groups: readonly string[]): Promise<Client>;
  events(): Promise<AuditEvent[]>;
  stop(): Promise<void>;
}

/** The real gateway (`Gateway.start`) with an MCP listener and the admin API, and a local token issuer. */
export async function startMcpGateway(
  dir: string,
  resources: string,
  extra = '',
  existingIssuer?: LocalIssuer,
): Promise<McpGateway> {
  const issuer = existingIssuer ?? (await startLocalIssuer());
  // Also written out, for CLI commands run against the same config and store.
  const text = `
identity:
  issuers:
    - { issuer: ${issuer.issuer}, audience: ${AUDIENCE}, jwksUri: ${issuer.jwksUri}, algorithms: [ES256] }
store: { sqlite: { path: ${join(dir, 'audit.db')} } }
approvals: { httpWait: 1500ms, postgresWait: 20s, pollInterval: 200ms }
${extra}
resources:
${resources}
`;
  writeFileSync(join(dir, 'gatehouse.yaml'), text);
  const loaded = parseConfig(text, join(dir, 'gatehouse.yaml'));
  const free = { host: '127.0.0.1', port: 0 };
  const gateway = await Gateway.start(loaded, { logger: createLogger('silent'), listen: { mcp: free, admin: free } });
  const mcpBase = `http://127.0.0.1:${gateway.addresses.mcp?.port}`;
  const token = async (sub: string, groups: readonly string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return issuer.sign({ iss: issuer.issuer, aud: AUDIENCE, sub, groups: [...groups], iat: now, exp: now + 300 });
  };
  const clients: Client[] = [];
  return {
    gateway,
    issuer,
    mcpBase,
    adminBase: `http://127.0.0.1:${gateway.addresses.admin?.port}`,
    token,
    async client(name, subject, groups) {
      const bearer = await token(subject, groups);
      const client = new Client({ name: 'test-agent', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${mcpBase}/mcp/${name}`), {
          requestInit: { headers: { authorization: `Bearer ${bearer}` } },
        }),
      );
      clients.push(client);
      return client;
    },
    async events() {
      // Durable events wait in the SQLite spool until drained into the table readEvents reads.
      await gateway.services.store.settle();
      return unfoldResults(await gateway.services.store.readEvents(0, 100_000));
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await gateway.stop();
      if (existingIssuer === undefined) await issuer.close();
    },
  };
}
