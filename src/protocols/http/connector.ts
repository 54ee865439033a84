import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool, errors as undiciErrors } from 'undici';
import type { HttpResourceConfig } from '../../config/schema.js';
import { GatehouseError } from '../../core/errors.js';

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query below the resource target, raw as the caller sent them. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | AsyncIterable<Buffer> | null;
  readonly signal: AbortSignal;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
  /** The agent that carried the request, when it went through the agent tunnel (recorded with the result). */
  readonly servedBy?: string;
}

/**
 * Carries one request to a resource's backend. The direct connector talks to the target itself; an agent connector
 * (later) carries the same request through the agent's tunnel, so the gateway never holds that backend's credential.
 */
export interface HttpConnector {
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** A keep-alive undici pool to the resource's target. */
export class DirectHttpConnector implements HttpConnector {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(resource: Pick<HttpResourceConfig, 'target' | 'timeouts'>, options: { connections?: number } = {}) {
    const target = new URL(resource.target);
    this.basePath = target.pathname.replace(/\/$/, '');
    this.pool = new Pool(target.origin, {
      connections: options.connections ?? 128,
      connect: { timeout: resource.timeouts.connect },
      headersTimeout: resource.timeouts.headers,
      bodyTimeout: resource.timeouts.idle,
      keepAliveTimeout: 30_000,
    });
  }

  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      const response = await this.pool.request({
        method: request.method as 'GET',
        path: this.basePath + request.path,
        headers: request.headers,
        // undici streams async iterables (documented for dispatch), though its types only name Readable.
        body: request.body as Buffer | Readable | null,
        signal: request.signal,
      });
      return { statusCode: response.statusCode, headers: response.headers as IncomingHttpHeaders, body: response.body };
    } catch (error) {
      throw upstreamError(error);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Maps transport failures to gateway errors without echoing upstream detail (it may name internal hosts). */
export function upstreamError(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new GatehouseError('upstream.timeout', undefined, { cause: error });
  }
  return new GatehouseError('upstream.unavailable', undefined, { cause: error });
}
