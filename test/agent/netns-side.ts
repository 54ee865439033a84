// The backend's side of the network-namespace test, run inside the namespace (`ip netns exec`): a real PostgreSQL and
// the OpenAI stand-in on the namespace's own loopback, a relay that lets connections go *out* to the gateway (through
// a Unix socket, shared across namespaces), and the agent. Prints one JSON line when ready; stops on SIGTERM.
import { execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/agent-config.js';
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';
import { startPostgres } from '../support/embedded-postgres.js';

const options = JSON.parse(process.argv[2] ?? '{}') as {
  gatewaySocket: string;
  pin: string;
  tokenFile: string;
  upstreamKey: string;
  dir: string;
};

const backend = await startPostgres();
// pgbench's tables, made inside the namespace (from outside only reads through the gateway are possible).
execFileSync(
  'pgbench',
  ['-i', '-s', '1', '-q', '-h', backend.host, '-p', String(backend.port), '-U', backend.user, backend.database],
  { env: { ...process.env, PGPASSWORD: backend.password }, stdio: 'ignore' },
);
const standIn = new OpenAiStandIn({ apiKey: options.upstreamKey, streamDelayMs: 2 });
const upstream = await standIn.start();
// Outbound only: a local port inside the namespace whose connections are carried to the gateway's agent listener.
const relay = createServer((inside) => {
  const outside = connect(options.gatewaySocket);
  inside.pipe(outside).pipe(inside);
  inside.on('error', () => outside.destroy());
  outside.on('error', () => inside.destroy());
});
await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
const relayPort = (relay.address() as { port: number }).port;
const { config, baseDir } = parseAgentConfig(
  {
    name: 'agent-netns',
    gateway: { address: `127.0.0.1:${relayPort}`, pin: options.pin },
    token: { file: options.tokenFile },
    resources: [
      {
        name: 'orders',
        protocol: 'postgres',
        target: {
          host: backend.host,
          port: backend.port,
          database: backend.database,
          user: backend.user,
          password: '${env:NETNS_PG_PASSWORD}',
        },
      },
      { name: 'llm', protocol: 'http', target: upstream, credential: { value: `Bearer ${options.upstreamKey}` } },
    ],
  },
  options.dir,
  'agent.yaml',
  { NETNS_PG_PASSWORD: backend.password },
);
const agent = new Agent(config, baseDir, pino({ level: 'silent' }));
const accepted = agent.identified();
await agent.start();
await accepted;
process.stdout.write(`${JSON.stringify({ pgPort: backend.port, pgPassword: backend.password, upstream })}\n`);
process.once('SIGTERM', async () => {
  await agent.stop();
  relay.close();
  await standIn.stop();
  await backend.stop();
  process.exit(0);
});
