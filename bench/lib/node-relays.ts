import { join } from 'node:path';
import { REPO_ROOT } from './gatehouse.js';
import { type Background, type CommandLog, startBackground, waitForPort } from './processes.js';

// The Node floor for each protocol: relays that do nothing but move bytes (TCP) or requests (HTTP), measured in the
// same run as Gatehouse, so a ratio against them shows what our own work costs above Node itself.

/** The Node floor (bench/lib/tcp-relay.mjs) listening on `port`, relaying to `target`. */
export async function startTcpRelay(
  log: CommandLog,
  port: number,
  target: { host: string; port: number },
): Promise<Background> {
  const relay = startBackground(log, 'node-relay', 'node', [
    join(REPO_ROOT, 'bench/lib/tcp-relay.mjs'),
    String(port),
    target.host,
    String(target.port),
  ]);
  await waitForPort(port, relay);
  return relay;
}

/** Starts the bare Node HTTP reverse proxy (bench/lib/http-relay.mjs) on `port`, in front of `target`. */
export async function startHttpRelay(
  log: CommandLog,
  port: number,
  target: { host: string; port: number; authorization: string },
): Promise<Background> {
  const relay = startBackground(log, 'node-relay', 'node', [
    join(REPO_ROOT, 'bench/lib/http-relay.mjs'),
    String(port),
    target.host,
    String(target.port),
    target.authorization,
  ]);
  await waitForPort(port, relay);
  return relay;
}
