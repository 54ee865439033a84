import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Identity } from '../../core/identity.js';
import { Session, type SessionServices } from '../../session/session.js';

/** One caller's MCP session: the Gatehouse session its messages are recorded in, and its open GET streams. */
export interface McpSession {
  /** The `Mcp-Session-Id`: random, unguessable, and only good for the identity that initialized it. */
  readonly id: string;
  readonly resource: string;
  readonly session: Session;
  readonly protocolVersion: string;
  readonly streams: Set<ServerResponse>;
  /** Requests still running, by JSON-RPC id: `notifications/cancelled` aborts one (a held review is withdrawn). */
  readonly inflight: Map<string | number, AbortController>;
  /** Resource URIs it subscribed to (subscriptions.ts). */
  readonly subscriptions: Set<string>;
  lastUsed: number;
  /** Set when the session ends (what was still being set up for it is then undone). */
  ended: boolean;
}

/**
 * Maps `Mcp-Session-Id`s to Gatehouse sessions bound to the caller's identity (issuer, subject and groups, as at
 * `initialize`). A request naming a session of another identity is answered as if the session did not exist.
 */
export class McpSessionRegistry {
  private readonly sessions = new Map<string, McpSession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly services: SessionServices,
    /** Told when a session ends, before its record is closed (its subscriptions go). */
    private readonly onEnd: (entry: McpSession) => void = () => undefined,
    private readonly idleMs = 30 * 60_000,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Sessions one identity may hold open at once: more would let one caller grow the gateway's memory unbounded. */
  static readonly MAX_PER_IDENTITY = 64;

  /** How many sessions this identity holds open now. */
  countOf(identity: Identity): number {
    let count = 0;
    for (const entry of this.sessions.values())
      if (entry.session.identity.issuer === identity.issuer && entry.session.identity.subject === identity.subject)
        count++;
    return count;
  }

  open(resource: string, identity: Identity, protocolVersion: string, clientAddress: string | undefined): McpSession {
    const session = new Session(this.services, {
      protocol: 'mcp',
      identity,
      resource,
      ...(clientAddress === undefined ? {} : { clientAddress }),
    });
    const entry: McpSession = {
      id: randomUUID(),
      resource,
      session,
      protocolVersion,
      streams: new Set(),
      inflight: new Map(),
      subscriptions: new Set(),
      lastUsed: this.services.clock.now(),
      ended: false,
    };
    this.sessions.set(entry.id, entry);
    this.services.metrics.sessionOpened('mcp');
    return entry;
  }

  /** The session, when it exists, belongs to this resource and was opened by this same identity. */
  find(id: string, resource: string, identity: Identity): McpSession | undefined {
    const entry = this.sessions.get(id);
    if (entry === undefined || entry.resource !== resource || !sameCaller(entry.session.identity, identity))
      return undefined;
    entry.lastUsed = this.services.clock.now();
    return entry;
  }

  ofResource(resource: string): McpSession[] {
    return [...this.sessions.values()].filter((entry) => entry.resource === resource);
  }

  async end(entry: McpSession, reason: string): Promise<void> {
    if (!this.sessions.delete(entry.id)) return;
    entry.ended = true;
    this.services.metrics.sessionClosed('mcp');
    for (const stream of entry.streams) stream.end();
    for (const running of entry.inflight.values()) running.abort();
    entry.streams.clear();
    this.onEnd(entry);
    await entry.session.end(reason).catch(() => undefined);
  }

  async sweep(): Promise<void> {
    const now = this.services.clock.now();
    // A session listening on an open GET stream is in use, however long since its last POST.
    const idle = [...this.sessions.values()].filter(
      (entry) => entry.streams.size === 0 && now - entry.lastUsed > this.idleMs,
    );
    await Promise.all(idle.map((entry) => this.end(entry, 'idle')));
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((entry) => this.end(entry, 'gateway-stopped')));
  }
}

/**
 * Same issuer and subject, and the same groups: a token with other groups (granted or revoked since) must start a
 * new session, so no decision is made on groups the caller no longer has.
 */
function sameCaller(a: Identity, b: Identity): boolean {
  if (a.issuer !== b.issuer || a.subject !== b.subject || a.groups.length !== b.groups.length) return false;
  const groups = new Set(a.groups);
  return b.groups.every((group) => groups.has(group));
}
