import type { Identity } from '../../core/identity.js';
import { Session, type SessionServices } from '../../session/session.js';

/**
 * HTTP has no connection-level session: a session is one token's run of requests. Sessions end when their token
 * expires or after a quiet period, and all of them when the listener stops.
 */
export class HttpSessionRegistry {
  private readonly sessions = new Map<string, { session: Session; lastUsed: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly services: SessionServices,
    private readonly idleMs = 10 * 60_000,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), 15_000);
    this.sweeper.unref();
  }

  sessionFor(identity: Identity, clientAddress: string | undefined): Session {
    const key = `${identity.issuer}\u0000${identity.tokenId}`;
    const now = this.services.clock.now();
    const existing = this.sessions.get(key);
    if (existing) {
      existing.lastUsed = now;
      return existing.session;
    }
    const session = new Session(this.services, { protocol: 'http', identity, clientAddress });
    this.sessions.set(key, { session, lastUsed: now });
    this.services.metrics.sessionOpened('http');
    return session;
  }

  /** Ends sessions whose token expired or that were idle too long. */
  async sweep(): Promise<void> {
    const now = this.services.clock.now();
    const ending: Promise<void>[] = [];
    for (const [key, entry] of this.sessions) {
      const expired = entry.session.identity.expiresAt <= now;
      if (expired || now - entry.lastUsed > this.idleMs) {
        this.sessions.delete(key);
        this.services.metrics.sessionClosed('http');
        ending.push(entry.session.end(expired ? 'token-expired' : 'idle').catch(() => undefined));
      }
    }
    await Promise.all(ending);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const ending = [...this.sessions.values()].map((entry) =>
      entry.session.end('gateway-stopped').catch(() => undefined),
    );
    // One close per session this registry opened: the gauge also counts other protocols' sessions.
    for (let i = 0; i < ending.length; i++) this.services.metrics.sessionClosed('http');
    this.sessions.clear();
    await Promise.all(ending);
  }
}
