import type { McpConnector } from './connector.js';
import type { McpSession } from './session-registry.js';

/** The callers subscribed to one URI, and the server's subscription they share (settled once the server agreed). */
interface Subscribed {
  readonly sessions: Set<McpSession>;
  readonly ready: Promise<void>;
}

/**
 * Callers' resource subscriptions on one resource. The gateway holds one session with the server, so it subscribes
 * there once per URI, whoever asked first, and fans the server's updates out to every caller subscribed to that URI
 * (each was allowed to read it when it subscribed; see message-handler.ts). The server's subscription ends with its
 * last subscriber, and is made again after the gateway reconnects (a new session on the server has none).
 */
export class ResourceSubscriptions {
  private readonly byUri = new Map<string, Subscribed>();

  constructor(
    private readonly connector: McpConnector,
    private readonly log: (message: string, error?: unknown) => void,
  ) {
    connector.onConnected(() => {
      for (const uri of this.byUri.keys())
        void connector
          .request('resources/subscribe', { uri })
          .catch((error: unknown) => log('MCP subscription not renewed', error));
    });
  }

  /** Subscribes the caller; rejects (and subscribes nothing) when the server refuses or cannot be reached. */
  async subscribe(mcp: McpSession, uri: string): Promise<void> {
    let entry = this.byUri.get(uri);
    if (entry === undefined) {
      const created: Subscribed = {
        sessions: new Set(),
        ready: this.connector.request('resources/subscribe', { uri }).then(() => undefined),
      };
      entry = created;
      this.byUri.set(uri, created);
      created.ready.catch(() => {
        if (this.byUri.get(uri) === created) this.byUri.delete(uri);
      });
    }
    await entry.ready;
    entry.sessions.add(mcp);
    mcp.subscriptions.add(uri);
    // The session ended while the server was asked: it holds no subscription, and the server's may end with it.
    if (mcp.ended) this.unsubscribe(mcp, uri);
  }

  unsubscribe(mcp: McpSession, uri: string): void {
    mcp.subscriptions.delete(uri);
    const entry = this.byUri.get(uri);
    if (entry === undefined || !entry.sessions.delete(mcp) || entry.sessions.size > 0) return;
    this.byUri.delete(uri);
    void this.connector
      .request('resources/unsubscribe', { uri })
      .catch((error: unknown) => this.log('MCP subscription not ended on the server', error));
  }

  /** A session ended: its subscriptions with it. */
  drop(mcp: McpSession): void {
    for (const uri of [...mcp.subscriptions]) this.unsubscribe(mcp, uri);
  }

  subscribers(uri: string): ReadonlySet<McpSession> {
    return this.byUri.get(uri)?.sessions ?? new Set();
  }
}
