import type { IncomingHttpHeaders } from 'node:http';
import { constants as http2Constants } from 'node:http2';
import type { HttpResourceConfig } from '../config/schema.js';
import { GatehouseError } from '../core/errors.js';
import type { HttpConnector, UpstreamRequest, UpstreamResponse } from '../protocols/http/connector.js';
import type { AgentRegistry, ConnectedAgent } from './agent-registry.js';
import { awaitResponse, openStream } from './agent-streams.js';
import { parseJsonHeader, TUNNEL_HEADERS, TUNNEL_PATHS } from './tunnel-protocol.js';

/** What the tunnel needs of a resource carried over HTTP (an HTTP resource, or an MCP server's route). */
export type TunnelHttpRoute = Pick<HttpResourceConfig, 'name' | 'agentGroup'> & {
  readonly timeouts: Pick<HttpResourceConfig['timeouts'], 'headers'>;
};

/** Carries one HTTP request through a connected agent, which injects the credential; bodies stream both ways. */
export class TunnelHttpConnector implements HttpConnector {
  constructor(
    private readonly resource: TunnelHttpRoute,
    private readonly registry: AgentRegistry,
  ) {}

  async request(request: UpstreamRequest): Promise<UpstreamResponse & { servedBy: string }> {
    const agent = this.registry.pick(this.resource.name, this.resource.agentGroup);
    if (agent === undefined) throw new GatehouseError('upstream.no_agent');
    try {
      return await this.requestThrough(agent, request);
    } catch (error) {
      // A failed call names the agent it went to, as a served one does (recorded with the result, never shown).
      const failure =
        error instanceof GatehouseError
          ? error
          : new GatehouseError('upstream.unavailable', undefined, { cause: error });
      throw new GatehouseError(failure.code, failure.message, {
        cause: failure.cause,
        details: { ...failure.details, servedBy: agent.id },
      });
    }
  }

  private async requestThrough(
    agent: ConnectedAgent,
    request: UpstreamRequest,
  ): Promise<UpstreamResponse & { servedBy: string }> {
    const hasBody = request.body !== null;
    const stream = openStream(
      agent,
      {
        ':method': 'POST',
        ':path': TUNNEL_PATHS.http,
        [TUNNEL_HEADERS.resource]: this.resource.name,
        [TUNNEL_HEADERS.method]: request.method,
        [TUNNEL_HEADERS.path]: request.path,
        [TUNNEL_HEADERS.headers]: JSON.stringify(request.headers),
        [TUNNEL_HEADERS.hasBody]: hasBody ? '1' : '0',
      },
      !hasBody,
    );
    const abort = () => stream.close(http2Constants.NGHTTP2_CANCEL);
    if (request.signal.aborted) abort();
    request.signal.addEventListener('abort', abort, { once: true });
    stream.once('close', () => request.signal.removeEventListener('abort', abort));
    if (request.body !== null) void sendBody(stream, request.body);
    const headers = await awaitResponse(stream, this.resource.timeouts.headers);
    if (Number(headers[':status']) !== 200) {
      stream.destroy();
      throw new GatehouseError(
        Number(headers[':status']) === 504 ? 'upstream.timeout' : 'upstream.unavailable',
        undefined,
        {
          details: { reason: `agent ${agent.id}: ${String(headers[TUNNEL_HEADERS.error] ?? headers[':status'])}` },
        },
      );
    }
    const statusCode = Number(headers[TUNNEL_HEADERS.status]);
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
      stream.destroy();
      throw new GatehouseError('upstream.unavailable', undefined, {
        details: { reason: `agent ${agent.id}: no valid upstream status` },
      });
    }
    return {
      statusCode,
      headers: parseJsonHeader(headers[TUNNEL_HEADERS.headers] as string) as IncomingHttpHeaders,
      body: stream,
      servedBy: agent.id,
    };
  }

  async close(): Promise<void> {}
}

/** Writes the request body with backpressure (waits for 'drain'), then ends the stream's request half. */
async function sendBody(
  stream: NodeJS.WritableStream & { destroyed: boolean; destroy(error?: Error): void },
  body: Buffer | AsyncIterable<Buffer>,
): Promise<void> {
  try {
    if (Buffer.isBuffer(body)) {
      stream.end(body);
      return;
    }
    for await (const chunk of body) {
      if (stream.destroyed) return;
      if (!stream.write(chunk)) await new Promise((resolve) => stream.once('drain', resolve));
    }
    stream.end();
  } catch (error) {
    stream.destroy(error as Error);
  }
}
