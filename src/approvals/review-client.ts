import { type ErrorCode, GatehouseError } from '../core/errors.js';
import type { Review, ReviewState } from './review.js';

export interface ReviewClientOptions {
  /** Base URL of the gateway's admin listener, e.g. http://127.0.0.1:9090. */
  readonly gateway: string;
  /** The caller's own OIDC access token. */
  readonly token: string;
  readonly timeoutMs?: number;
}

/** The approvers' REST API as a typed client: used by `gatehouse reviews` and `gatehouse access`. */
export class ReviewClient {
  private readonly base: string;

  constructor(private readonly options: ReviewClientOptions) {
    let url: URL;
    try {
      url = new URL(options.gateway);
    } catch {
      throw new GatehouseError('request.invalid', `--gateway: "${options.gateway}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new GatehouseError('request.invalid', '--gateway must be an http:// or https:// URL');
    }
    this.base = url.href.replace(/\/+$/, '');
  }

  async list(state?: ReviewState): Promise<Review[]> {
    const query = state === undefined ? '' : `?state=${encodeURIComponent(state)}`;
    return ((await this.call('GET', `/api/reviews${query}`)) as { reviews: Review[] }).reviews;
  }

  async show(id: string): Promise<Review> {
    return ((await this.call('GET', `/api/reviews/${encodeURIComponent(id)}`)) as { review: Review }).review;
  }

  async decide(id: string, verdict: 'approve' | 'deny', reason?: string): Promise<Review> {
    const body = reason === undefined ? {} : { reason };
    return ((await this.call('POST', `/api/reviews/${encodeURIComponent(id)}/${verdict}`, body)) as { review: Review })
      .review;
  }

  async requestAccess(request: {
    resource: string;
    kind: string;
    duration: string;
    reason: string;
    group?: string;
  }): Promise<Review> {
    return ((await this.call('POST', '/api/access-requests', request)) as { review: Review }).review;
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      throw new GatehouseError('upstream.unavailable', `cannot reach the gateway admin API at ${this.base}`, {
        cause: error,
      });
    }
    const data = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
    if (!response.ok) {
      const message = data.error?.message ?? `the gateway answered HTTP ${response.status}`;
      throw new GatehouseError(refusalCode(response.status), message);
    }
    return data;
  }
}

/**
 * The admin API's refusal as an error code: a malformed call or an unknown review is the caller's mistake (the CLI
 * exits 2); a refused token, a decision the API would not take (403 own review, 409 already decided) or a failing
 * gateway is the command failing (exit 1).
 */
function refusalCode(status: number): ErrorCode {
  if (status === 400) return 'request.invalid';
  if (status === 404) return 'request.not_found';
  if (status === 401) return 'auth.invalid_token';
  if (status >= 500) return 'upstream.unavailable';
  return 'policy.denied';
}
