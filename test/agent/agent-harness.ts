import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { Agent } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/agent-config.js';
import { type LoadedConfig, loadConfigFile } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import { systemClock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { ensureQuickstartCertificate } from '../../src/quickstart/quickstart-certificate.js';
import type { TestPostgres } from '../support/embedded-postgres.js';
import { temporaryDirectory } from '../support/temp-dir.js';

/** For worlds whose agents serve no PostgreSQL resource (or are refused first): nothing listens there. */
export const NO_BACKEND: TestPostgres = {
  host: '127.0.0.1',
  port: 9,
  user: 'nobody',
  password: 'unused',
  database: 'none',
  url: '',
  stop: async () => undefined,
};

/** Lines a logger wrote, kept so tests can search them (for a credential that must not be there). */
export class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger;
  constructor(level = 'debug') {
    const lines = this.lines;
    this.logger = pino(
      { level },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface AgentWorld {
  readonly dir: string;
  readonly backend: TestPostgres;
  readonly gatewayFile: string;
  readonly agentsPort: number;
  readonly pin: string;
  readonly gatewayLog: LogCapture;
  gateway: Gateway;
  loaded: LoadedConfig;
  issuer: DevIssuer;
  /** Starts (or restarts) the gateway on the same agent port. */
  startGateway(): Promise<Gateway>;
  /** A caller token for the gateway. */
  mint(subject: string, groups: readonly string[], clock?: Clock): Promise<string>;
  /** Writes a token file for an agent and returns its path. */
  tokenFile(name: string, token: string): string;
  /** Starts an in-process agent with the given YAML-ish object merged over the defaults. */
  startAgent(name: string, options: AgentOptions): Promise<Agent>;
  client(token: string, database: string): pg.Client;
  stop(): Promise<void>;
}

export interface AgentOptions {
  readonly token: string;
  readonly resources: readonly Record<string, unknown>[];
  readonly group?: string;
  /** Resolve at once instead of waiting for the gateway to accept the agent. */
  readonly noWait?: boolean;
  readonly logger?: Logger;
  /** Replaces how the agent verifies the gateway (default: the certificate's pin). */
  readonly verify?: { readonly pin?: string; readonly ca?: string; readonly serverName?: string };
}

/**
 * A real gateway (config file, SQLite audit store, dev issuer, PostgreSQL listener, agent tunnel listener) and
 * real agents in this process, all on loopback ports; the backend is a real PostgreSQL the agents reach.
 */
export async function startAgentWorld(backend: TestPostgres, resourcesYaml: string, agentPolicyYaml: string) {
  const dir = temporaryDirectory('gatehouse-agent-');
  const cert = join(dir, 'tunnel.crt');
  const key = join(dir, 'tunnel.key');
  await ensureQuickstartCertificate({ cert, key });
  const pin = new X509Certificate(readFileSync(cert)).fingerprint256;
  const agentsPort = await freePort();
  const gatewayFile = join(dir, 'gatehouse.yaml');
  writeFileSync(
    gatewayFile,
    `
listen:
  postgres: 127.0.0.1:0
  http: 127.0.0.1:0
  admin: 127.0.0.1:0${resourcesYaml.includes('protocol: mcp') ? '\n  mcp: 127.0.0.1:0' : ''}
postgres:
  allowPlaintextPassword: true # loopback only
log:
  level: debug
identity:
  devIssuer:
    enabled: true
    keyFile: dev-issuer.jwk.json
store:
  sqlite:
    path: audit.db
agents:
  listen: 127.0.0.1:${agentsPort}
  tls:
    cert: tunnel.crt
    key: tunnel.key
  heartbeat: 500ms
  policy:
${agentPolicyYaml}
resources:
${resourcesYaml}
`,
  );
  const gatewayLog = new LogCapture();
  const agents: Agent[] = [];
  const world = {
    dir,
    backend,
    gatewayFile,
    agentsPort,
    pin,
    gatewayLog,
    gateway: undefined as unknown as Gateway,
    loaded: undefined as unknown as LoadedConfig,
    issuer: undefined as unknown as DevIssuer,
    async startGateway() {
      world.loaded = loadConfigFile(gatewayFile, {});
      world.gateway = await Gateway.start(world.loaded, { logger: gatewayLog.logger });
      world.issuer = await DevIssuer.open(world.loaded.config.identity.devIssuer, world.loaded.baseDir, systemClock);
      return world.gateway;
    },
    async mint(subject: string, groups: readonly string[], clock: Clock = systemClock) {
      const issuer = await DevIssuer.open(world.loaded.config.identity.devIssuer, world.loaded.baseDir, clock);
      return issuer.mint({ subject, groups, ttlMs: 600_000 });
    },
    tokenFile(name: string, token: string) {
      const file = join(dir, `${name}.token`);
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      return file;
    },
    async startAgent(name: string, options: AgentOptions) {
      const tokenFile = world.tokenFile(name, options.token);
      const { config, baseDir } = parseAgentConfig(
        {
          name,
          ...(options.group === undefined ? {} : { group: options.group }),
          gateway: { address: `127.0.0.1:${agentsPort}`, ...(options.verify ?? { pin }) },
          token: { file: tokenFile },
          heartbeat: '500ms',
          reconnect: { min: '50ms', max: '500ms' },
          resources: options.resources,
        },
        dir,
      );
      const agent = new Agent(
        config,
        baseDir,
        options.logger ?? pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
      );
      agents.push(agent);
      const accepted = agent.identified();
      await agent.start();
      if (!options.noWait) await accepted;
      return agent;
    },
    client(token: string, database: string) {
      const address = world.gateway.addresses.postgres as { host: string; port: number };
      return new pg.Client({ host: address.host, port: address.port, user: 'caller', password: token, database });
    },
    async stop() {
      await Promise.all(agents.map((agent) => agent.stop()));
      await world.gateway?.stop();
    },
  };
  await world.startGateway();
  return world;
}

/** The agent's resource entry for the test backend, with its own credential. */
export function pgResource(name: string, backend: TestPostgres, extra: Record<string, unknown> = {}) {
  return {
    name,
    protocol: 'postgres',
    target: {
      host: backend.host,
      port: backend.port,
      database: backend.database,
      user: backend.user,
      password: backend.password,
    },
    ...extra,
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
