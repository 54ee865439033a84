import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { GatehouseError } from '../../../core/errors.js';
import {
  ACCEPT_SSL,
  encodeAuthenticationCleartextPassword,
  encodeNegotiateProtocolVersion,
  REFUSE_ENCRYPTION,
} from '../wire/backend-messages.js';
import { type Frame, FrameReader, MAX_PRE_AUTH_MESSAGE_BYTES, type StartupPacket } from '../wire/frame-reader.js';
import {
  type CancelRequest,
  decodeFrontendMessage,
  decodePassword,
  decodeStartupPacket,
  type StartupMessage,
} from '../wire/frontend-messages.js';
import { FRONTEND } from '../wire/message-codes.js';
import { protocolViolation } from '../wire/protocol-error.js';
import { startupSettings } from './startup-parameters.js';

export interface ClientStartupOptions {
  readonly maxMessageBytes: number;
  /** When set, SSLRequest is accepted and the connection upgraded to TLS; otherwise it is answered `N`. */
  readonly tls?: SecureContext;
  /** Ask for the token on a plain TCP connection; otherwise only after TLS (see `postgres.allowPlaintextPassword`). */
  readonly allowPlaintextPassword: boolean;
}

/** A client that has sent its StartupMessage and a password (the OIDC token), not yet verified. */
export interface ClientLogin {
  readonly type: 'login';
  /** The socket to keep talking on (a TLSSocket after SSLRequest). */
  readonly socket: Socket;
  /** Its reader, possibly holding bytes the client sent early. */
  readonly reader: FrameReader;
  readonly startup: StartupMessage;
  readonly password: string;
  readonly tls: boolean;
}

export type ClientStartup = ClientLogin | { readonly type: 'cancel'; readonly request: CancelRequest };

/**
 * The client's side of the start-up flow, up to the password: SSLRequest and GSSENCRequest negotiation, protocol
 * version checks (NegotiateProtocolVersion for newer minor versions), CancelRequest, StartupMessage, then
 * AuthenticationCleartextPassword and the PasswordMessage carrying the token.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export async function negotiateClientStartup(socket: Socket, options: ClientStartupOptions): Promise<ClientStartup> {
  let frames = new SocketFrames(
    socket,
    new FrameReader({ maxMessageBytes: Math.min(options.maxMessageBytes, MAX_PRE_AUTH_MESSAGE_BYTES) }),
  );
  let encrypted = false;
  try {
    for (;;) {
      const request = decodeStartupPacket(await frames.startup());
      if (request.type === 'CancelRequest') return { type: 'cancel', request };
      if (request.type === 'GSSENCRequest') {
        frames.socket.write(REFUSE_ENCRYPTION);
        continue;
      }
      if (request.type === 'SSLRequest') {
        if (encrypted || options.tls === undefined) {
          frames.socket.write(REFUSE_ENCRYPTION);
          continue;
        }
        // Bytes sent before the TLS handshake completes could have been injected by a man in the middle.
        if (frames.reader.buffered > 0) throw protocolViolation('unexpected data after SSLRequest');
        frames.detach();
        frames.socket.write(ACCEPT_SSL);
        frames = new SocketFrames(
          await upgrade(frames.socket, options.tls),
          new FrameReader({ maxMessageBytes: Math.min(options.maxMessageBytes, MAX_PRE_AUTH_MESSAGE_BYTES) }),
        );
        encrypted = true;
        continue;
      }
      checkStartup(request, frames.socket);
      if (!encrypted && !options.allowPlaintextPassword) {
        throw new GatehouseError(
          'auth.tls_required',
          'this gateway accepts tokens only over TLS: connect with sslmode=require (or set postgres.allowPlaintextPassword for loopback use)',
        );
      }
      frames.socket.write(encodeAuthenticationCleartextPassword());
      const answer = await frames.frame();
      if (answer.code !== FRONTEND.PasswordMessage) throw protocolViolation('expected a PasswordMessage');
      const message = decodeFrontendMessage(answer);
      const password = message.type === 'PasswordMessage' ? decodePassword(message) : '';
      frames.detach();
      // The session's messages may be as long as configured; its token is verified before any is read.
      frames.reader.limit(options.maxMessageBytes);
      return {
        type: 'login',
        socket: frames.socket,
        reader: frames.reader,
        startup: request,
        password,
        tls: encrypted,
      };
    }
  } finally {
    frames.detach();
  }
}

/** Protocol 3.x only; a newer minor version or `_pq_.` options are answered with NegotiateProtocolVersion (3.0). */
function checkStartup(startup: StartupMessage, socket: Socket): void {
  if (startup.major !== 3) {
    throw new GatehouseError(
      'request.invalid',
      `unsupported frontend protocol ${startup.major}.${startup.minor}: server supports 3.0`,
      {
        details: { sqlstate: '0A000' },
      },
    );
  }
  const options = Object.keys(startup.parameters).filter((name) => name.startsWith('_pq_.'));
  if (startup.minor > 0 || options.length > 0) socket.write(encodeNegotiateProtocolVersion(0, options));
  const replication = startup.parameters['replication'];
  if (replication !== undefined && !['false', 'off', 'no', '0'].includes(replication.toLowerCase())) {
    throw new GatehouseError('request.invalid', 'replication connections are not supported by the gateway', {
      details: { sqlstate: '0A000' },
    });
  }
  if (!startup.parameters['user']) {
    throw new GatehouseError('request.invalid', 'no PostgreSQL user name specified in startup packet', {
      details: { sqlstate: '28000' },
    });
  }
  // A client_encoding other than UTF-8 or a startup option that is not harmless is refused before the token is asked.
  startupSettings(startup.parameters);
}

function upgrade(socket: Socket, secureContext: SecureContext): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const secure = new TLSSocket(socket, { isServer: true, secureContext });
    secure.once('secure', () => {
      secure.off('error', reject);
      resolve(secure);
    });
    secure.once('error', reject);
  });
}

/** Waits for whole packets on a socket during the start-up flow. */
class SocketFrames {
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.reader.push(chunk);
    this.wake();
  };
  private readonly onEnd = () => {
    this.failure ??= new GatehouseError('request.invalid', 'the client closed the connection during startup');
    this.wake();
  };

  constructor(
    readonly socket: Socket,
    readonly reader: FrameReader,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  startup(): Promise<StartupPacket> {
    return this.until(() => this.reader.nextStartup());
  }

  frame(): Promise<Frame> {
    return this.until(() => this.reader.next());
  }

  /** Stops listening; the socket is paused so no data is lost before the next owner attaches. */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
    this.socket.pause();
  }

  private async until<T>(next: () => T | undefined): Promise<T> {
    for (;;) {
      const value = next();
      if (value !== undefined) return value;
      if (this.failure !== undefined) throw this.failure;
      this.socket.resume();
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
