import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The HTTP plumbing every stand-in upstream shares: listen on loopback, stop, read a body, answer JSON. */
export abstract class StandInServer {
  protected readonly server: Server = createServer((req, res) => void this.handle(req, res));

  constructor(private readonly listenAt: { readonly host?: string; readonly port?: number } = {}) {
    this.server.keepAliveTimeout = 30_000;
  }

  /** Starts listening; resolves with the base URL. */
  async start(): Promise<string> {
    this.server.listen(this.listenAt.port ?? 0, this.listenAt.host ?? '127.0.0.1');
    await once(this.server, 'listening');
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address}:${port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export async function readRequestText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
