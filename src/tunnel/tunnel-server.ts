import { randomUUID } from 'node:crypto';
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { AgentsConfig } from '../config/agents-schema.js';
import type { ListenAddress, ResourceConfig } from '../config/schema.js';
import { TUNNEL_CONNECTION_WINDOW_STREAMS } from '../config/schema-parts.js';
import type { AuditEventInput } from '../core/audit-event.js';
import type { Clock } from '../core/clock.js';
import { isGatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { TokenVerifier } from '../identity/verifier.js';
import { AgentPolicy } from './agent-policy.js';
import { AgentRegistry, type ConnectedAgent } from './agent-registry.js';
import { readBody } from './stream-body.js';
import { type AgentHello, MAX_HELLO_BYTES, parseHello, TUNNEL_ALPN, TUNNEL_PATHS } from './tunnel-protocol.js';

export interface TunnelServerOptions {
  readonly config: AgentsConfig;
  readonly resources: readonly ResourceConfig[];
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly verifier: TokenVerifier;
  readonly recorder: { record(event: AuditEventInput): Promise<void> };
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * The gateway's side of the agent tunnel (see tunnel-protocol.ts): accepts agents' TLS connections, becomes the HTTP/2
 * client on each, verifies the agent's token and what it offers, registers it, pings it, and asks it for a fresh
 * token before the current one expires. Every admission and refusal is audited (as a session of protocol `agent`).
 */
export class TunnelServer {
  readonly registry = new AgentRegistry();
  private readonly policy: AgentPolicy;
  private readonly server: Server;
  private readonly sessions = new Set<ClientHttp2Session>();
  private sequence = 0;

  constructor(private readonly options: TunnelServerOptions) {
    this.policy = new AgentPolicy(options.config.policy, options.resources);
    this.server = createServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        ALPNProtocols: [TUNNEL_ALPN],
        minVersion: 'TLSv1.2',
        handshakeTimeout: options.config.identifyTimeout,
      },
      (socket) => this.accept(socket),
    );
    this.server.on('tlsClientError', (error) => options.logger.debug({ err: error }, 'agent TLS handshake failed'));
  }

  /** Starts listening on `config.listen`, or on `override` (tests use port 0). */
  async start(override?: ListenAddress): Promise<{ host: string; port: number }> {
    const address = override ?? this.options.config.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(address.port, address.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const bound = this.server.address();
    if (bound === null || typeof bound === 'string') throw new Error('agent listener has no TCP address');
    this.options.logger.info({ host: bound.address, port: bound.port }, 'agent listener started');
    return { host: bound.address, port: bound.port };
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    await closed;
  }

  private accept(socket: TLSSocket): void {
    const { logger } = this.options;
    socket.setNoDelay(true);
    socket.on('error', (error) => logger.debug({ err: error }, 'agent socket error'));
    const session = http2Connect('http://agent.invalid', {
      createConnection: () => socket,
      // The agent is not trusted until identified: keep what it may make us buffer small.
      maxSessionMemory: 64,
      maxHeaderListPairs: 128,
      // Streams are only ever opened by the gateway: refuse pushed ones. A window above Node's 64 KiB default lets a
      // large result cross a long round trip at speed (agents.streamWindow).
      settings: { enablePush: false, initialWindowSize: this.options.config.streamWindow },
    });
    session.once('connect', () =>
      session.setLocalWindowSize(this.options.config.streamWindow * TUNNEL_CONNECTION_WINDOW_STREAMS),
    );
    this.sessions.add(session);
    session.on('error', (error) => logger.debug({ err: error }, 'agent tunnel error'));
    session.once('close', () => this.sessions.delete(session));
    this.admit(session, socket.remoteAddress).catch((error: unknown) => {
      logger.error({ err: error }, 'agent admission failed unexpectedly');
      session.destroy();
    });
  }

  private async admit(session: ClientHttp2Session, remoteAddress: string | undefined): Promise<void> {
    const { clock, logger } = this.options;
    const auditId = randomUUID();
    let hello: AgentHello;
    let identity: Identity;
    try {
      hello = await this.identify(session);
    } catch (error) {
      await this.refuse(session, auditId, undefined, remoteAddress, 'no valid hello', error);
      return;
    }
    try {
      identity = await this.options.verifier.verify(hello.token);
    } catch (error) {
      await this.refuse(session, auditId, undefined, remoteAddress, 'agent token not accepted', error, hello.name);
      return;
    }
    const admission = this.policy.admit(identity, hello);
    if (!admission.admitted) {
      await this.refuse(session, auditId, identity, remoteAddress, admission.reason, undefined, hello.name);
      return;
    }
    const now = clock.now();
    const agent: ConnectedAgent = {
      id: `${hello.name}#${++this.sequence}`,
      name: hello.name,
      group: hello.group,
      identity,
      resources: admission.resources,
      session,
      connectedAt: now,
      lastSeen: now,
      active: 0,
    };
    await this.audit(auditId, 'session.start', identity, remoteAddress, hello.name, {
      resources: agent.resources,
      agentId: agent.id,
    });
    if (session.closed || session.destroyed) {
      await this.auditEnd(auditId, 'agent disconnected');
      return;
    }
    this.registry.add(agent);
    const notice = session.request({ ':method': 'POST', ':path': TUNNEL_PATHS.accepted }, { endStream: true });
    notice.on('error', () => undefined);
    notice.resume();
    logger.info({ agent: agent.id, subject: identity.subject, resources: agent.resources }, 'agent connected');
    const heartbeat = this.startHeartbeat(agent);
    const renewal = this.startRenewal(agent);
    session.once('close', () => {
      clearInterval(heartbeat);
      renewal.stop();
      this.registry.remove(agent.id);
      logger.warn({ agent: agent.id }, 'agent disconnected');
      void this.auditEnd(auditId, renewal.failed() ? 'agent token renewal failed' : 'agent disconnected');
    });
  }

  /** PING every `heartbeat`; a PING unanswered for twice that long means the peer is gone. */
  private startHeartbeat(agent: ConnectedAgent): NodeJS.Timeout {
    const interval = this.options.config.heartbeat;
    let outstandingSince: number | undefined;
    const timer = setInterval(() => {
      const now = this.options.clock.now();
      if (now >= agent.identity.expiresAt) {
        this.options.logger.warn({ agent: agent.id }, 'agent token expired without renewal; dropping it');
        agent.session.destroy();
        return;
      }
      if (outstandingSince !== undefined) {
        if (now - outstandingSince > 2 * interval) {
          this.options.logger.warn({ agent: agent.id }, 'agent missed its heartbeat; dropping it');
          agent.session.destroy();
        }
        return;
      }
      outstandingSince = now;
      try {
        agent.session.ping((error) => {
          outstandingSince = undefined;
          if (error === null) agent.lastSeen = this.options.clock.now();
        });
      } catch {
        agent.session.destroy();
      }
    }, interval);
    timer.unref();
    return timer;
  }

  /** Asks for a fresh token at three quarters of the current one's life; an agent that cannot renew is dropped. */
  private startRenewal(agent: ConnectedAgent): { stop(): void; failed(): boolean } {
    let timer: NodeJS.Timeout | undefined;
    let failed = false;
    const arm = () => {
      const left = agent.identity.expiresAt - this.options.clock.now();
      timer = setTimeout(
        () => {
          this.renew(agent).then(arm, (error: unknown) => {
            this.options.logger.warn(
              { agent: agent.id, reason: error instanceof Error ? error.message : String(error) },
              'agent token renewal failed; dropping it',
            );
            failed = true;
            agent.session.destroy();
          });
        },
        Math.max(500, Math.floor(left * 0.75)),
      );
      timer.unref();
    };
    arm();
    return { stop: () => clearTimeout(timer), failed: () => failed };
  }

  private async renew(agent: ConnectedAgent): Promise<void> {
    const hello = await this.identify(agent.session);
    const identity = await this.options.verifier.verify(hello.token);
    if (identity.subject !== agent.identity.subject || identity.issuer !== agent.identity.issuer)
      throw new Error('the renewed token names another identity');
    const admission = this.policy.admit(identity, hello);
    if (!admission.admitted || admission.resources.join('\n') !== agent.resources.join('\n'))
      throw new Error('the renewed hello changes what the agent serves');
    agent.identity = identity;
    agent.lastSeen = this.options.clock.now();
  }

  private async identify(session: ClientHttp2Session): Promise<AgentHello> {
    const stream = session.request({ ':method': 'POST', ':path': TUNNEL_PATHS.identify }, { endStream: true });
    const timer = setTimeout(() => stream.close(), this.options.config.identifyTimeout);
    try {
      const body = await readBody(stream, MAX_HELLO_BYTES);
      return parseHello(body.toString('utf8'));
    } finally {
      clearTimeout(timer);
    }
  }

  private async refuse(
    session: ClientHttp2Session,
    auditId: string,
    identity: Identity | undefined,
    remoteAddress: string | undefined,
    reason: string,
    error: unknown,
    name?: string,
  ): Promise<void> {
    const detail = isGatehouseError(error) ? error.details['reason'] : error instanceof Error ? error.message : '';
    this.options.logger.warn({ agent: name, reason, detail, remoteAddress }, 'agent refused');
    await this.audit(auditId, 'session.start', identity, remoteAddress, name, { refused: reason })
      .then(() => this.auditEnd(auditId, `refused: ${reason}`))
      .catch(() => undefined);
    if (!session.closed && !session.destroyed) {
      // The agent's operator needs the reason; a token failure's detail stays in the gateway's log. Closed once the
      // notice is answered (or after a second), so the agent has read it.
      const notice = session.request({ ':method': 'POST', ':path': TUNNEL_PATHS.refused });
      const done = () => session.destroy();
      notice.on('error', done);
      notice.on('close', done);
      notice.resume();
      notice.end(reason);
      setTimeout(done, 1_000).unref();
    }
  }

  private audit(
    auditId: string,
    type: 'session.start',
    identity: Identity | undefined,
    remoteAddress: string | undefined,
    name: string | undefined,
    extra: Record<string, unknown>,
  ): Promise<void> {
    return this.options.recorder.record({
      sessionId: auditId,
      type,
      at: this.options.clock.now(),
      payload: {
        protocol: 'agent',
        issuer: identity?.issuer ?? '',
        subject: identity?.subject ?? '(unverified)',
        groups: identity?.groups ?? [],
        tokenId: identity?.tokenId ?? '',
        clientAddress: remoteAddress,
        userName: name,
        ...extra,
      },
    });
  }

  private auditEnd(auditId: string, reason: string): Promise<void> {
    return this.options.recorder
      .record({ sessionId: auditId, type: 'session.end', at: this.options.clock.now(), payload: { reason } })
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'agent audit record failed'));
  }
}
