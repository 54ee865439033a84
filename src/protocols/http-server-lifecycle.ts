import { once } from 'node:events';
import type { Server, ServerOptions } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GatehouseConfig } from '../config/schema.js';

/** In-flight requests get this long after a stop before their sockets are cut. */
const STOP_GRACE_MS = 2_000;

/**
 * The limits every HTTP listener of the gateway puts on a request's arrival (`http:` in the config). Node enforces
 * headersTimeout only when requestTimeout is set, checking every connectionsCheckingInterval.
 */
export function httpServerLimits(http: GatehouseConfig['http']): ServerOptions {
  return {
    maxHeaderSize: http.maxHeaderBytes,
    headersTimeout: http.headersTimeout,
    requestTimeout: http.requestTimeout,
    connectionsCheckingInterval: Math.min(1_000, Math.max(100, http.headersTimeout / 4)),
  };
}

/** Listens on `address` and returns where it is bound (port 0 picks one). */
export async function listenOn(
  server: Server,
  address: { readonly host: string; readonly port: number },
): Promise<{ host: string; port: number }> {
  server.listen(address.port, address.host);
  await once(server, 'listening');
  const bound = server.address() as AddressInfo;
  return { host: bound.address, port: bound.port };
}

/** Stops accepting, closes idle connections, gives in-flight requests a moment, then cuts what is left. */
export async function closeGracefully(server: Server, sockets: ReadonlySet<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = setTimeout(() => {
    for (const socket of sockets) socket.destroy();
  }, STOP_GRACE_MS);
  await closed;
  clearTimeout(deadline);
}
