import { createHash } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { serialize } from 'pg-protocol';
import type { PostgresResourceConfig } from '../../../config/schema.js';
import { GatehouseError, isGatehouseError } from '../../../core/errors.js';
import {
  type AuthenticationRequest,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeParameterStatus,
} from '../wire/backend-messages.js';
import { type Frame, FrameReader } from '../wire/frame-reader.js';
import { BACKEND } from '../wire/message-codes.js';
import type { BackendConnection, BackendConnectOptions, BackendConnector, BackendKey } from './backend-connector.js';
import { SCRAM_SHA_256, ScramClient } from './scram-client.js';
import { PINNED_STARTUP } from './startup-parameters.js';

export interface DirectConnectorOptions {
  /** Longest time for TCP connect, TLS and the backend's startup until ReadyForQuery. */
  readonly connectTimeoutMs?: number;
  /** Extra TLS options (CA, client certificate) when a resource sets `target.tls`. Certificates are verified. */
  readonly tls?: ConnectionOptions;
}

type StartupStep = (frame: Frame, state: StartupState) => Promise<'done' | 'continue'> | 'done' | 'continue';

interface StartupState {
  readonly socket: Socket;
  /** The backend login this session uses: the resource's own, or its read-only login for a read-only session. */
  readonly login: BackendLogin;
  scram: ScramClient | undefined;
  readonly parameters: Map<string, string>;
  key: BackendKey | undefined;
}

/**
 * Connects straight to the resource's host over TCP (TLS when `target.tls`), performs the startup and logs in with
 * the configured credential: SCRAM-SHA-256, md5, cleartext or trust.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export class DirectConnector implements BackendConnector {
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: DirectConnectorOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  async connect(resource: PostgresResourceConfig, options: BackendConnectOptions): Promise<BackendConnection> {
    const socket = await this.open(resource);
    const timer = setTimeout(
      () => socket.destroy(new GatehouseError('upstream.timeout', 'the backend did not finish its startup in time')),
      this.connectTimeoutMs,
    );
    try {
      const state = await this.startup(socket, resource, options);
      const key = state.key;
      const target = resource.target;
      return {
        socket: state.socket,
        parameters: state.parameters,
        key,
        cancel: () => (key === undefined ? Promise.resolve() : sendCancel(target.host, target.port, key)),
      };
    } catch (error) {
      socket.destroy();
      throw asUpstreamError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  private async open(resource: PostgresResourceConfig): Promise<Socket> {
    const { host, port, tls } = resource.target;
    const socket = await connectTcp(host, port, this.connectTimeoutMs);
    if (!tls) return socket;
    socket.write(serialize.requestSsl());
    const answer = await readBytes(socket, 1);
    if (answer.toString() !== 'S') {
      socket.destroy();
      throw new GatehouseError('upstream.unavailable', undefined, { details: { reason: 'backend refused TLS' } });
    }
    return new Promise<Socket>((resolve, reject) => {
      const secure = tlsConnect({ ...this.options.tls, socket, servername: host }, () => {
        secure.off('error', reject);
        resolve(secure);
      });
      secure.once('error', reject);
    });
  }

  private startup(
    socket: Socket,
    resource: PostgresResourceConfig,
    options: BackendConnectOptions,
  ): Promise<StartupState> {
    const login = loginFor(resource, options.readOnly);
    const parameters: Record<string, string> = {
      ...options.parameters,
      user: login.user,
      database: resource.target.database,
      application_name: options.applicationName,
    };
    // The readings statements are classified in; pg-protocol's startup message itself appends client_encoding=UTF8
    // (last, so it wins over anything before it).
    for (const [name, value] of Object.entries(PINNED_STARTUP))
      if (name !== 'client_encoding') parameters[name] = value;
    if (options.readOnly) parameters['default_transaction_read_only'] = 'on';
    const state: StartupState = { socket, login, scram: undefined, parameters: new Map(), key: undefined };
    const reader = new FrameReader({ maxMessageBytes: 1024 * 1024 });
    return new Promise<StartupState>((resolve, reject) => {
      let busy = Promise.resolve();
      const fail = (error: unknown) => {
        cleanup();
        reject(error);
      };
      const onClose = () =>
        fail(
          new GatehouseError('upstream.unavailable', undefined, {
            details: { reason: 'backend closed during startup' },
          }),
        );
      const onData = (chunk: Buffer) => {
        reader.push(chunk);
        busy = busy
          .then(async () => {
            for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
              const step = STARTUP_STEPS[frame.code];
              if (step === undefined)
                throw new GatehouseError('upstream.unavailable', undefined, {
                  details: { reason: `unexpected backend message 0x${frame.code.toString(16)} during startup` },
                });
              if ((await step(frame, state)) === 'done') {
                cleanup();
                socket.pause();
                const rest = reader.drain();
                if (rest.length > 0) socket.unshift(rest);
                resolve(state);
                return;
              }
            }
          })
          .catch(fail);
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onClose);
      };
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('close', onClose);
      socket.write(serialize.startup(parameters));
    });
  }
}

/** What to do with each backend message until ReadyForQuery ends the startup. */
const STARTUP_STEPS: Readonly<Record<number, StartupStep>> = Object.assign(Object.create(null), {
  [BACKEND.Authentication]: (frame: Frame, state: StartupState) =>
    authenticate(decodeAuthentication(frame.body), state),
  [BACKEND.ParameterStatus]: (frame: Frame, state: StartupState) => {
    const { name, value } = decodeParameterStatus(frame.body);
    state.parameters.set(name, value);
    return 'continue';
  },
  [BACKEND.BackendKeyData]: (frame: Frame, state: StartupState) => {
    state.key = decodeBackendKeyData(frame.body);
    return 'continue';
  },
  [BACKEND.NoticeResponse]: () => 'continue',
  [BACKEND.NegotiateProtocolVersion]: () => 'continue',
  [BACKEND.ErrorResponse]: (frame: Frame) => {
    const fields = decodeErrorFields(frame.body);
    // The backend's own words stay in the gateway's logs (via details); the caller sees a generic message.
    throw new GatehouseError('upstream.unavailable', 'the backend refused the gateway connection', {
      details: { reason: `backend ${fields['C'] ?? ''}: ${fields['M'] ?? ''}` },
    });
  },
  [BACKEND.ReadyForQuery]: () => 'done',
} satisfies Record<number, StartupStep>);

/** Who the backend session logs in as. */
interface BackendLogin {
  readonly user: string;
  readonly password: string | undefined;
}

/** A read-only session uses the resource's read-only login when one is configured (least privilege underneath). */
export function loginFor(resource: PostgresResourceConfig, readOnly: boolean): BackendLogin {
  const target = resource.target;
  const reader = target.readOnlyLogin;
  if (readOnly && reader !== undefined) return { user: reader.user, password: reader.password };
  return { user: target.user, password: target.password };
}

async function authenticate(request: AuthenticationRequest, state: StartupState): Promise<'continue'> {
  const password = state.login.password;
  const needPassword = (): string => {
    if (password === undefined)
      throw new GatehouseError('upstream.unavailable', undefined, {
        details: { reason: 'backend asks for a password and none is configured' },
      });
    return password;
  };
  switch (request.type) {
    case 'Ok':
      break;
    case 'CleartextPassword':
      state.socket.write(serialize.password(needPassword()));
      break;
    case 'MD5Password': {
      const inner = md5Hex(needPassword() + state.login.user);
      state.socket.write(serialize.password(`md5${md5Hex(Buffer.concat([Buffer.from(inner), request.salt]))}`));
      break;
    }
    case 'SASL': {
      if (!request.mechanisms.includes(SCRAM_SHA_256))
        throw new GatehouseError('upstream.unavailable', undefined, {
          details: { reason: `no supported SASL mechanism in ${request.mechanisms.join(', ')}` },
        });
      state.scram = new ScramClient(needPassword());
      state.socket.write(serialize.sendSASLInitialResponseMessage(SCRAM_SHA_256, state.scram.clientFirstMessage()));
      break;
    }
    case 'SASLContinue': {
      if (state.scram === undefined)
        throw new GatehouseError('upstream.unavailable', undefined, {
          details: { reason: 'SASLContinue before SASL' },
        });
      state.socket.write(
        serialize.sendSCRAMClientFinalMessage(await state.scram.clientFinalMessage(request.data.toString('utf8'))),
      );
      break;
    }
    case 'SASLFinal':
      if (state.scram === undefined)
        throw new GatehouseError('upstream.unavailable', undefined, { details: { reason: 'SASLFinal before SASL' } });
      state.scram.verifyServerFinal(request.data.toString('utf8'));
      break;
    case 'Unsupported':
      throw new GatehouseError('upstream.unavailable', undefined, {
        details: { reason: `unsupported backend authentication method ${request.subtype}` },
      });
  }
  return 'continue';
}

function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function asUpstreamError(error: unknown): GatehouseError {
  if (isGatehouseError(error)) return error;
  return new GatehouseError('upstream.unavailable', undefined, {
    cause: error,
    details: { reason: (error as Error).message },
  });
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(
      () => socket.destroy(new GatehouseError('upstream.timeout', 'connecting to the backend timed out')),
      timeoutMs,
    );
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
  });
}

function readBytes(socket: Socket, count: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      // Bytes beyond the answer before the TLS handshake could be injected by a man in the middle: refuse them.
      if (chunk.length !== count)
        reject(
          new GatehouseError('upstream.unavailable', undefined, {
            details: { reason: 'unexpected data after SSLRequest answer' },
          }),
        );
      else resolve(chunk);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** CancelRequest on a fresh connection; the backend answers nothing and closes. */
function sendCancel(host: string, port: number, key: BackendKey): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = netConnect({ host, port }, () => {
      if (key.secretKey.length === 4) socket.end(serialize.cancel(key.processId, key.secretKey.readInt32BE(0)));
      else socket.destroy();
    });
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}
