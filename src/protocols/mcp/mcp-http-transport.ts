import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { HttpConnector, UpstreamRequest, UpstreamResponse } from '../http/connector.js';

/**
 * An MCP server's HTTP requests, sent with node:http over kept-alive connections to the server's origin. Not the
 * HTTP data path's undici pool: one MCP call is a few hundred bytes each way, and node:http's client costs the
 * least per request of the clients measured (bench/results/mcp.md).
 */
export class NodeHttpTransport implements HttpConnector {
  private readonly origin: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(url: string) {
    this.origin = new URL(new URL(url).origin);
    const https = this.origin.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.send = https ? httpsRequest : httpRequest;
  }

  request(request: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      // `signal` ends the request, and the response's body with it when it already came.
      const req = this.send(new URL(request.path, this.origin), {
        method: request.method,
        agent: this.agent,
        headers: request.headers,
        signal: request.signal,
      });
      req.once('response', (res) => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res }));
      req.once('error', reject);
      if (Buffer.isBuffer(request.body)) req.end(request.body);
      else req.end();
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
