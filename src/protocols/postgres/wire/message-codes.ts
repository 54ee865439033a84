/**
 * Message type bytes and startup codes of the PostgreSQL frontend/backend protocol, version 3.0.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

const byte = (char: string): number => char.charCodeAt(0);

/** Type bytes of messages a client (frontend) sends once the startup packet has been exchanged. */
export const FRONTEND = {
  Bind: byte('B'),
  Close: byte('C'),
  CopyData: byte('d'),
  CopyDone: byte('c'),
  CopyFail: byte('f'),
  Describe: byte('D'),
  Execute: byte('E'),
  Flush: byte('H'),
  FunctionCall: byte('F'),
  Parse: byte('P'),
  /** Also carries GSSResponse, SASLInitialResponse and SASLResponse: the meaning depends on the authentication step. */
  PasswordMessage: byte('p'),
  Query: byte('Q'),
  Sync: byte('S'),
  Terminate: byte('X'),
} as const;
export type FrontendMessageName = keyof typeof FRONTEND;

/** Type bytes of messages a server (backend) sends. */
export const BACKEND = {
  Authentication: byte('R'),
  BackendKeyData: byte('K'),
  BindComplete: byte('2'),
  CloseComplete: byte('3'),
  CommandComplete: byte('C'),
  CopyData: byte('d'),
  CopyDone: byte('c'),
  CopyInResponse: byte('G'),
  CopyOutResponse: byte('H'),
  CopyBothResponse: byte('W'),
  DataRow: byte('D'),
  EmptyQueryResponse: byte('I'),
  ErrorResponse: byte('E'),
  FunctionCallResponse: byte('V'),
  NegotiateProtocolVersion: byte('v'),
  NoData: byte('n'),
  NoticeResponse: byte('N'),
  NotificationResponse: byte('A'),
  ParameterDescription: byte('t'),
  ParameterStatus: byte('S'),
  ParseComplete: byte('1'),
  PortalSuspended: byte('s'),
  ReadyForQuery: byte('Z'),
  RowDescription: byte('T'),
} as const;

/** Request codes that take the place of a protocol version in the untyped startup packet. */
export const STARTUP_REQUEST = {
  /** Protocol 3.0: `(3 << 16) | 0`. */
  StartupMessage: 196608,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
  CancelRequest: 80877102,
} as const;

/** Subtypes of the Authentication (`R`) message. */
export const AUTHENTICATION = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** ReadyForQuery transaction status: idle, in a transaction block, in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';

function invert(table: Readonly<Record<string, number>>): Readonly<Record<number, string>> {
  const names: Record<number, string> = Object.create(null);
  for (const [name, code] of Object.entries(table)) names[code] = name;
  return names;
}

/** Message names by type byte, for logs and errors. */
export const FRONTEND_NAMES = invert(FRONTEND) as Readonly<Record<number, FrontendMessageName | undefined>>;
