import type { ServerHttp2Stream } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { isGatehouseError } from '../core/errors.js';
import { DirectHttpConnector } from '../protocols/http/connector.js';
import { parseJsonHeader, TUNNEL_HEADERS } from '../tunnel/tunnel-protocol.js';
import type { AgentHttpResource } from './agent-config.js';

/**
 * Serves HTTP streams: one upstream request each, sent with the agent's keep-alive pool and the credential injected
 * here (the gateway holds none). Request and response bodies stream through; backpressure is HTTP/2's per stream.
 */
export class HttpDialer {
  private readonly connectors = new Map<string, DirectHttpConnector>();

  constructor(private readonly logger: Logger) {}

  private connectorFor(resource: AgentHttpResource): DirectHttpConnector {
    let connector = this.connectors.get(resource.name);
    if (connector === undefined) {
      connector = new DirectHttpConnector(resource);
      this.connectors.set(resource.name, connector);
    }
    return connector;
  }

  async forward(stream: ServerHttp2Stream, headers: Record<string, unknown>, resource: AgentHttpResource) {
    const method = String(headers[TUNNEL_HEADERS.method] ?? 'GET');
    const path = String(headers[TUNNEL_HEADERS.path] ?? '/');
    if (!/^[A-Z]{1,16}$/.test(method) || !path.startsWith('/')) {
      stream.respond({ ':status': 400, [TUNNEL_HEADERS.error]: 'bad-request' }, { endStream: true });
      return;
    }
    const upstreamHeaders = parseJsonHeader(headers[TUNNEL_HEADERS.headers] as string);
    delete upstreamHeaders['authorization'];
    if (resource.credential) upstreamHeaders[resource.credential.header.toLowerCase()] = resource.credential.value;
    const abort = new AbortController();
    stream.once('close', () => abort.abort());
    const hasBody = headers[TUNNEL_HEADERS.hasBody] === '1';
    try {
      const response = await this.connectorFor(resource).request({
        method,
        path,
        headers: upstreamHeaders,
        // Iterating must not destroy the stream at the body's end: the response goes back on the same stream.
        body: hasBody ? (stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) : null,
        signal: abort.signal,
      });
      if (stream.destroyed || stream.closed) {
        response.body.destroy();
        return;
      }
      stream.respond({
        ':status': 200,
        [TUNNEL_HEADERS.status]: String(response.statusCode),
        [TUNNEL_HEADERS.headers]: JSON.stringify(response.headers),
      });
      await pipeline(response.body, stream).catch(() => stream.destroy());
    } catch (error) {
      this.logger.warn(
        {
          resource: resource.name,
          reason: isGatehouseError(error) ? (error.details['reason'] ?? error.code) : String(error),
        },
        'upstream request failed',
      );
      if (!stream.destroyed && !stream.headersSent)
        stream.respond(
          {
            ':status': isGatehouseError(error) && error.code === 'upstream.timeout' ? 504 : 502,
            [TUNNEL_HEADERS.error]: 'upstream-unavailable',
          },
          { endStream: true },
        );
      else stream.destroy();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.connectors.values()].map((connector) => connector.close()));
  }
}
