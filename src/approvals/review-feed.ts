import pg from 'pg';
import type { Logger } from 'pino';

/** The PostgreSQL channel replicas announce review changes on; the payload is `<kind>:<review id>`. */
export const REVIEW_CHANNEL = 'gatehouse_reviews';

const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5_000;

export interface ReviewFeedHandlers {
  /** A review changed somewhere (this replica included). */
  readonly changed: (kind: string, reviewId: string) => void;
  /** The listening connection was (re)established: changes made while it was down were missed, so poll once. */
  readonly resumed: () => void;
}

/** Review changes made by other replicas, pushed rather than polled. */
export interface ReviewFeed {
  readonly listening: boolean;
  start(handlers: ReviewFeedHandlers): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Review changes announced by every replica sharing a PostgreSQL store, through LISTEN/NOTIFY on a dedicated
 * connection (pooled connections cannot LISTEN: the pool hands them to other queries). The connection reconnects
 * with backoff when the server goes away; the approval service's poll covers the gap.
 */
export class PostgresReviewFeed implements ReviewFeed {
  private client: pg.Client | undefined;
  private handlers: ReviewFeedHandlers | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay = RECONNECT_FIRST_MS;
  private stopped = false;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  /** True while the listening connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Starts listening; resolves once the first attempt ended (a failed one keeps retrying in the background). */
  async start(handlers: ReviewFeedHandlers): Promise<void> {
    this.handlers = handlers;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.attempt().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, connectionTimeoutMillis: 5_000 });
    // Without a listener an error on an idle connection would crash the process; `end` follows it.
    client.on('error', (error) => this.logger.debug({ err: error }, 'review feed connection error'));
    client.on('notification', (message) => {
      if (message.channel !== REVIEW_CHANNEL || message.payload === undefined) return;
      const colon = message.payload.indexOf(':');
      if (colon < 0) return;
      this.handlers?.changed(message.payload.slice(0, colon), message.payload.slice(colon + 1));
    });
    try {
      await client.connect();
      await client.query(`listen ${REVIEW_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      this.logger.warn({ err: error }, 'review feed could not listen; polling until it can');
      this.retry();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    client.once('end', () => {
      if (this.client !== client) return;
      this.client = undefined;
      if (!this.stopped) {
        this.logger.warn('review feed connection lost; reconnecting (polling meanwhile)');
        this.retry();
      }
    });
    this.client = client;
    this.delay = RECONNECT_FIRST_MS;
    this.handlers?.resumed();
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.delay);
    this.retryTimer.unref();
    this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
  }
}
