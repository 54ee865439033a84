import { FieldReader } from './field-reader.js';
import { FieldWriter } from './field-writer.js';
import { AUTHENTICATION, BACKEND, type TransactionStatus } from './message-codes.js';
import { protocolViolation } from './protocol-error.js';

/**
 * Encoders for the messages the gateway itself speaks as a server, and decoders for the few backend messages whose
 * content it needs (everything else is relayed as bytes).
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/**
 * Fields of an ErrorResponse or NoticeResponse, by their documented meaning.
 * https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export interface ErrorFields {
  readonly severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';
  /** SQLSTATE, five characters. */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

/** Field type bytes of ErrorResponse/NoticeResponse. */
const ERROR_FIELD = {
  severity: 0x53, // S: localized
  severityV: 0x56, // V: never localized
  code: 0x43, // C
  message: 0x4d, // M
  detail: 0x44, // D
  hint: 0x48, // H
} as const;

function encodeFields(code: number, fields: ErrorFields): Buffer {
  const writer = new FieldWriter()
    .byte(ERROR_FIELD.severity)
    .cstring(fields.severity)
    .byte(ERROR_FIELD.severityV)
    .cstring(fields.severity)
    .byte(ERROR_FIELD.code)
    .cstring(fields.code)
    .byte(ERROR_FIELD.message)
    .cstring(fields.message);
  if (fields.detail !== undefined) writer.byte(ERROR_FIELD.detail).cstring(fields.detail);
  if (fields.hint !== undefined) writer.byte(ERROR_FIELD.hint).cstring(fields.hint);
  return writer.byte(0).message(code);
}

/** ErrorResponse (`E`). */
export function encodeErrorResponse(fields: ErrorFields): Buffer {
  return encodeFields(BACKEND.ErrorResponse, fields);
}

/** NoticeResponse (`N`). */
export function encodeNoticeResponse(fields: ErrorFields): Buffer {
  return encodeFields(BACKEND.NoticeResponse, fields);
}

/** AuthenticationCleartextPassword (`R`, 3). */
export function encodeAuthenticationCleartextPassword(): Buffer {
  return new FieldWriter().int32(AUTHENTICATION.CleartextPassword).message(BACKEND.Authentication);
}

/** AuthenticationOk (`R`, 0). */
export function encodeAuthenticationOk(): Buffer {
  return new FieldWriter().int32(AUTHENTICATION.Ok).message(BACKEND.Authentication);
}

/** ParameterStatus (`S`). */
export function encodeParameterStatus(name: string, value: string): Buffer {
  return new FieldWriter().cstring(name).cstring(value).message(BACKEND.ParameterStatus);
}

/** BackendKeyData (`K`), protocol 3.0 form with a 4-byte secret key. */
export function encodeBackendKeyData(processId: number, secretKey: number): Buffer {
  return new FieldWriter().int32(processId).int32(secretKey).message(BACKEND.BackendKeyData);
}

/** ReadyForQuery (`Z`). */
export function encodeReadyForQuery(status: TransactionStatus): Buffer {
  return new FieldWriter().byte(status.charCodeAt(0)).message(BACKEND.ReadyForQuery);
}

/** NegotiateProtocolVersion (`v`): the newest minor version supported and the `_pq_.` options not recognised. */
export function encodeNegotiateProtocolVersion(minor: number, unrecognized: readonly string[]): Buffer {
  const writer = new FieldWriter().int32(minor).int32(unrecognized.length);
  for (const option of unrecognized) writer.cstring(option);
  return writer.message(BACKEND.NegotiateProtocolVersion);
}

/** The single byte that answers SSLRequest and GSSENCRequest: `S`/`G` to proceed, `N` to refuse. */
export const REFUSE_ENCRYPTION = Buffer.from('N');
export const ACCEPT_SSL = Buffer.from('S');

export type AuthenticationRequest =
  | { readonly type: 'Ok' }
  | { readonly type: 'CleartextPassword' }
  | { readonly type: 'MD5Password'; readonly salt: Buffer }
  | { readonly type: 'SASL'; readonly mechanisms: readonly string[] }
  | { readonly type: 'SASLContinue'; readonly data: Buffer }
  | { readonly type: 'SASLFinal'; readonly data: Buffer }
  | { readonly type: 'Unsupported'; readonly subtype: number };

/** Authentication (`R`) from the backend. */
export function decodeAuthentication(body: Buffer): AuthenticationRequest {
  const reader = new FieldReader(body, 'Authentication');
  const subtype = reader.int32();
  switch (subtype) {
    case AUTHENTICATION.Ok:
      return { type: 'Ok' };
    case AUTHENTICATION.CleartextPassword:
      return { type: 'CleartextPassword' };
    case AUTHENTICATION.MD5Password:
      return { type: 'MD5Password', salt: reader.bytes(4) };
    case AUTHENTICATION.SASL: {
      const mechanisms: string[] = [];
      for (let name = reader.cstring(); name !== ''; name = reader.cstring()) mechanisms.push(name);
      return { type: 'SASL', mechanisms };
    }
    case AUTHENTICATION.SASLContinue:
      return { type: 'SASLContinue', data: reader.rest() };
    case AUTHENTICATION.SASLFinal:
      return { type: 'SASLFinal', data: reader.rest() };
    default:
      return { type: 'Unsupported', subtype };
  }
}

/** ErrorResponse / NoticeResponse fields by type byte (`C` SQLSTATE, `M` message...). */
export function decodeErrorFields(body: Buffer): Readonly<Record<string, string>> {
  const reader = new FieldReader(body, 'ErrorResponse');
  const fields: Record<string, string> = Object.create(null);
  for (let type = reader.byte(); type !== 0; type = reader.byte()) fields[String.fromCharCode(type)] = reader.cstring();
  return fields;
}

/** ReadyForQuery (`Z`) transaction status. */
export function decodeReadyForQuery(body: Buffer): TransactionStatus {
  const reader = new FieldReader(body, 'ReadyForQuery');
  const status = String.fromCharCode(reader.byte());
  if (status !== 'I' && status !== 'T' && status !== 'E') throw protocolViolation('ReadyForQuery: unknown status');
  return status;
}

/** CommandComplete (`C`) command tag, e.g. `SELECT 3`, `INSERT 0 1`. */
export function decodeCommandComplete(body: Buffer): string {
  return new FieldReader(body, 'CommandComplete').cstring();
}

/** ParameterStatus (`S`). */
export function decodeParameterStatus(body: Buffer): { readonly name: string; readonly value: string } {
  const reader = new FieldReader(body, 'ParameterStatus');
  return { name: reader.cstring(), value: reader.cstring() };
}

/** BackendKeyData (`K`): the process id and secret key a CancelRequest must present. */
export function decodeBackendKeyData(body: Buffer): { readonly processId: number; readonly secretKey: Buffer } {
  const reader = new FieldReader(body, 'BackendKeyData');
  return { processId: reader.int32(), secretKey: Buffer.from(reader.rest()) };
}
