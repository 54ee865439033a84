import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import postgres from 'postgres';
import { Agent } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/agent-config.js';
import { startPostgres, type TestPostgres } from '../support/embedded-postgres.js';
import { type AgentWorld, freePort, pgResource, startAgentWorld } from './agent-harness.js';

/** Each way; a round trip between agent and gateway takes twice this. */
const ONE_WAY_MS = 30;
/** Bytes each way: 32 windows of Node's 64 KiB default. */
const BYTES = 2 * 1024 * 1024;
/**
 * What the flow-control window lets a sender have on the link at once, unacknowledged: with Node's 64 KiB default
 * never more than about 64 KiB (plus TLS and frame headers), whatever the link; with 1 MiB windows, several times
 * that on a link this long. Judged on bytes in flight rather than on time, so a busy machine does not decide it.
 */
const MIN_IN_FLIGHT = 4 * 64 * 1024;

/** Most bytes held on the link at once, per direction: agent -> gateway (results) and gateway -> agent (uploads). */
const inFlight = { toGateway: { now: 0, max: 0 }, toAgent: { now: 0, max: 0 } };

/** A TCP forwarder that holds every chunk for `delayMs` in each direction: a long link, on loopback. */
function slowLink(port: number, target: number, delayMs: number): Server {
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    const forward = (from: Socket, to: Socket, count: { now: number; max: number }) =>
      from.on('data', (chunk) => {
        count.now += chunk.length;
        count.max = Math.max(count.max, count.now);
        setTimeout(() => {
          count.now -= chunk.length;
          if (!to.destroyed) to.write(chunk);
        }, delayMs);
      });
    // The agent dials the link; the link dials the gateway.
    forward(a, b, inFlight.toGateway);
    forward(b, a, inFlight.toAgent);
    const close = () => {
      a.destroy();
      b.destroy();
    };
    a.on('error', close).on('close', close);
    b.on('error', close).on('close', close);
  });
  server.listen(port, '127.0.0.1');
  return server;
}

describe('tunnel flow-control windows over a long round trip (agent 60 ms away)', () => {
  let backend: TestPostgres;
  let world: AgentWorld;
  let link: Server;
  let agent: Agent;
  let token: string;

  before(async () => {
    backend = await startPostgres();
    const direct = new pg.Client({ connectionString: backend.url });
    await direct.connect();
    await direct.query('create table uploads (body text)');
    await direct.end();
    world = await startAgentWorld(
      backend,
      `
  - name: far
    protocol: postgres
    via: agent
    target: { host: agent, database: far, user: agent }
    policy:
      - groups: [writers]
        allow: [read, write]
`,
      '    - subjects: [agent-far]\n      resources: [far]',
    );
    const linkPort = await freePort();
    link = slowLink(linkPort, world.agentsPort, ONE_WAY_MS);
    const { config, baseDir } = parseAgentConfig(
      {
        name: 'agent-far',
        gateway: { address: `127.0.0.1:${linkPort}`, pin: world.pin },
        token: { file: world.tokenFile('agent-far', await world.mint('agent-far', [])) },
        resources: [pgResource('far', backend)],
      },
      world.dir,
    );
    agent = new Agent(config, baseDir, pino({ level: 'silent' }));
    const accepted = agent.identified();
    await agent.start();
    await accepted;
    token = await world.mint('far-writer', ['writers']);
  });

  after(async () => {
    await agent?.stop();
    link?.close();
    await world?.stop();
    await backend?.stop();
  });

  const session = () => {
    const address = world.gateway.addresses.postgres as { host: string; port: number };
    return postgres({ ...address, user: 'c', password: token, database: 'far', max: 1, onnotice: () => undefined });
  };

  test(`a ${BYTES / 1024 / 1024} MiB result (COPY TO STDOUT) keeps more than 4 default windows in flight`, async () => {
    const sql = session();
    try {
      await sql`select 1`;
      const rows = Math.ceil(BYTES / 200);
      const started = performance.now();
      let bytes = 0;
      const readable = await sql
        .unsafe(`copy (select i, repeat('x', 200) from generate_series(1, ${rows}) i) to stdout`)
        .readable();
      for await (const chunk of readable as AsyncIterable<Buffer>) bytes += chunk.length;
      const elapsed = performance.now() - started;
      assert.ok(bytes >= BYTES);
      assert.ok(
        inFlight.toGateway.max > MIN_IN_FLIGHT,
        `at most ${inFlight.toGateway.max} bytes in flight toward the gateway (${bytes} bytes in ${Math.round(elapsed)} ms)`,
      );
    } finally {
      await sql.end();
    }
  });

  test(`a ${BYTES / 1024 / 1024} MiB upload (COPY FROM STDIN) keeps more than 4 default windows in flight`, async () => {
    const sql = session();
    try {
      await sql`select 1`;
      const line = Buffer.from(`${'y'.repeat(1023)}\n`);
      const started = performance.now();
      const writable = await sql`copy uploads (body) from stdin`.writable();
      await pipeline(
        Readable.from(Array.from({ length: BYTES / 1024 / 64 }, () => Buffer.concat(Array(64).fill(line)))),
        writable,
      );
      const elapsed = performance.now() - started;
      assert.equal((await sql`select count(*)::int as n from uploads`)[0]?.n, BYTES / 1024);
      assert.ok(
        inFlight.toAgent.max > MIN_IN_FLIGHT,
        `at most ${inFlight.toAgent.max} bytes in flight toward the agent (the upload took ${Math.round(elapsed)} ms)`,
      );
    } finally {
      await sql.end();
    }
  });
});
