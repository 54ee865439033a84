import { FieldReader } from './field-reader.js';
import type { Frame, StartupPacket } from './frame-reader.js';
import { FRONTEND, FRONTEND_NAMES, STARTUP_REQUEST } from './message-codes.js';
import { protocolViolation } from './protocol-error.js';

/**
 * Decoders for the messages a client sends, by the names the protocol documentation gives them.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export interface StartupMessage {
  readonly type: 'StartupMessage';
  readonly major: number;
  readonly minor: number;
  /** `user`, `database`, `application_name`, GUCs, `_pq_.` protocol options... */
  readonly parameters: Readonly<Record<string, string>>;
}
export interface SSLRequest {
  readonly type: 'SSLRequest';
}
export interface GSSENCRequest {
  readonly type: 'GSSENCRequest';
}
export interface CancelRequest {
  readonly type: 'CancelRequest';
  readonly processId: number;
  /** 4 bytes in protocol 3.0, up to 256 in 3.2. */
  readonly secretKey: Buffer;
}
export type StartupRequest = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest;

/** Decodes the untyped first packet of a connection. */
export function decodeStartupPacket(packet: StartupPacket): StartupRequest {
  switch (packet.code) {
    case STARTUP_REQUEST.SSLRequest:
      return { type: 'SSLRequest' };
    case STARTUP_REQUEST.GSSENCRequest:
      return { type: 'GSSENCRequest' };
    case STARTUP_REQUEST.CancelRequest: {
      const reader = new FieldReader(packet.body, 'CancelRequest');
      const processId = reader.int32();
      const secretKey = reader.rest();
      if (secretKey.length < 4 || secretKey.length > 256)
        throw protocolViolation('CancelRequest: invalid secret key length');
      return { type: 'CancelRequest', processId, secretKey };
    }
  }
  const reader = new FieldReader(packet.body, 'StartupMessage');
  const parameters: Record<string, string> = Object.create(null);
  for (;;) {
    const name = reader.cstring();
    if (name === '') break;
    parameters[name] = reader.cstring();
  }
  reader.end();
  return { type: 'StartupMessage', major: packet.code >>> 16, minor: packet.code & 0xffff, parameters };
}

export interface Query {
  readonly type: 'Query';
  readonly sql: string;
}
export interface Parse {
  readonly type: 'Parse';
  /** Prepared statement name; empty for the unnamed statement. */
  readonly name: string;
  readonly sql: string;
  readonly parameterTypes: readonly number[];
}
export interface Bind {
  readonly type: 'Bind';
  /** Portal name; empty for the unnamed portal. */
  readonly portal: string;
  readonly statement: string;
  readonly parameterCount: number;
}
export interface Describe {
  readonly type: 'Describe';
  /** `S` for a prepared statement, `P` for a portal. */
  readonly target: 'S' | 'P';
  readonly name: string;
}
export interface Execute {
  readonly type: 'Execute';
  readonly portal: string;
  /** 0 means no limit. */
  readonly maxRows: number;
}
export interface Close {
  readonly type: 'Close';
  readonly target: 'S' | 'P';
  readonly name: string;
}
export interface Sync {
  readonly type: 'Sync';
}
export interface Flush {
  readonly type: 'Flush';
}
export interface Terminate {
  readonly type: 'Terminate';
}
export interface CopyData {
  readonly type: 'CopyData';
  readonly data: Buffer;
}
export interface CopyDone {
  readonly type: 'CopyDone';
}
export interface CopyFail {
  readonly type: 'CopyFail';
  readonly message: string;
}
export interface FunctionCall {
  readonly type: 'FunctionCall';
  readonly functionOid: number;
}
/** PasswordMessage, or a SASL/GSS response: the bytes are interpreted by the authentication step that asked. */
export interface PasswordMessage {
  readonly type: 'PasswordMessage';
  readonly data: Buffer;
}

export type FrontendMessage =
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Close
  | Sync
  | Flush
  | Terminate
  | CopyData
  | CopyDone
  | CopyFail
  | FunctionCall
  | PasswordMessage;

type Decoder = (reader: FieldReader) => FrontendMessage;

function target(reader: FieldReader, message: string): 'S' | 'P' {
  const value = reader.byte();
  if (value === 0x53) return 'S';
  if (value === 0x50) return 'P';
  throw protocolViolation(`${message}: target must be 'S' or 'P'`);
}

function empty(type: 'Sync' | 'Flush' | 'Terminate' | 'CopyDone'): Decoder {
  return (reader) => {
    reader.end();
    return { type };
  };
}

/** Decoders by type byte; a byte absent here is a protocol violation. */
const DECODERS: Readonly<Record<number, Decoder>> = Object.assign(Object.create(null), {
  [FRONTEND.Query]: (r: FieldReader): Query => {
    const sql = r.sqlText();
    r.end();
    return { type: 'Query', sql };
  },
  [FRONTEND.Parse]: (r: FieldReader): Parse => {
    const name = r.cstring();
    const sql = r.sqlText();
    const count = r.int16();
    if (count < 0) throw protocolViolation('Parse: negative parameter count');
    const parameterTypes: number[] = [];
    for (let i = 0; i < count; i++) parameterTypes.push(r.int32() >>> 0);
    r.end();
    return { type: 'Parse', name, sql, parameterTypes };
  },
  [FRONTEND.Bind]: (r: FieldReader): Bind => {
    const portal = r.cstring();
    const statement = r.cstring();
    const formatCount = r.int16();
    if (formatCount < 0) throw protocolViolation('Bind: negative format count');
    for (let i = 0; i < formatCount; i++) r.int16();
    const parameterCount = r.int16();
    if (parameterCount < 0) throw protocolViolation('Bind: negative parameter count');
    for (let i = 0; i < parameterCount; i++) {
      const length = r.int32();
      if (length !== -1) r.bytes(length);
    }
    const resultFormatCount = r.int16();
    if (resultFormatCount < 0) throw protocolViolation('Bind: negative result format count');
    for (let i = 0; i < resultFormatCount; i++) r.int16();
    r.end();
    return { type: 'Bind', portal, statement, parameterCount };
  },
  [FRONTEND.Describe]: (r: FieldReader): Describe => {
    const kind = target(r, 'Describe');
    const name = r.cstring();
    r.end();
    return { type: 'Describe', target: kind, name };
  },
  [FRONTEND.Execute]: (r: FieldReader): Execute => {
    const portal = r.cstring();
    const maxRows = r.int32();
    r.end();
    return { type: 'Execute', portal, maxRows };
  },
  [FRONTEND.Close]: (r: FieldReader): Close => {
    const kind = target(r, 'Close');
    const name = r.cstring();
    r.end();
    return { type: 'Close', target: kind, name };
  },
  [FRONTEND.Sync]: empty('Sync'),
  [FRONTEND.Flush]: empty('Flush'),
  [FRONTEND.Terminate]: empty('Terminate'),
  [FRONTEND.CopyDone]: empty('CopyDone'),
  [FRONTEND.CopyData]: (r: FieldReader): CopyData => ({ type: 'CopyData', data: r.rest() }),
  [FRONTEND.CopyFail]: (r: FieldReader): CopyFail => {
    const message = r.cstring();
    r.end();
    return { type: 'CopyFail', message };
  },
  [FRONTEND.FunctionCall]: (r: FieldReader): FunctionCall => ({ type: 'FunctionCall', functionOid: r.int32() >>> 0 }),
  [FRONTEND.PasswordMessage]: (r: FieldReader): PasswordMessage => ({ type: 'PasswordMessage', data: r.rest() }),
});

/** Decodes one typed frontend message; unknown type bytes and malformed bodies throw `request.invalid`. */
export function decodeFrontendMessage(frame: Frame): FrontendMessage {
  const decode = DECODERS[frame.code];
  if (decode === undefined) throw protocolViolation(`unknown frontend message type 0x${frame.code.toString(16)}`);
  return decode(new FieldReader(frame.body, FRONTEND_NAMES[frame.code] ?? 'message'));
}

/** A PasswordMessage's NUL-terminated password. */
export function decodePassword(message: PasswordMessage): string {
  const reader = new FieldReader(message.data, 'PasswordMessage');
  const password = reader.cstring();
  reader.end();
  return password;
}
