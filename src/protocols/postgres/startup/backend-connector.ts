import type { Duplex } from 'node:stream';
import type { PostgresResourceConfig } from '../../../config/schema.js';

export interface BackendConnectOptions {
  /** Open the backend session with `default_transaction_read_only=on` (defence in depth for read-only callers). */
  readonly readOnly: boolean;
  readonly applicationName: string;
  /** Further startup parameters from the client (DateStyle, TimeZone...), already filtered by the listener. */
  readonly parameters?: Readonly<Record<string, string>>;
}

/** The backend's BackendKeyData: what a CancelRequest for this backend session must present. */
export interface BackendKey {
  readonly processId: number;
  readonly secretKey: Buffer;
}

/** A backend session that has finished its startup and is ready for queries (it has sent ReadyForQuery). */
export interface BackendConnection {
  /** The protocol stream, positioned just after ReadyForQuery; paused until the caller reads it. */
  readonly socket: Duplex;
  /** ParameterStatus values the backend sent during startup, in order. */
  readonly parameters: ReadonlyMap<string, string>;
  readonly key: BackendKey | undefined;
  /** The agent that opened this session, when it came through the tunnel (named in the session's audit record). */
  readonly servedBy?: string;
  /** Asks the backend to cancel whatever this session is running (CancelRequest on a new connection). */
  cancel(): Promise<void>;
}

/**
 * Opens backend sessions with the resource's own credential, which never leaves the gateway. Direct TCP today; an
 * agent tunnel can implement the same interface and carry the same bytes.
 */
export interface BackendConnector {
  connect(resource: PostgresResourceConfig, options: BackendConnectOptions): Promise<BackendConnection>;
}
