import type { MaskCounts } from '../../../masking/counts.js';
import type { MaskingPlan } from '../../../masking/profile.js';
import { FieldReader } from '../wire/field-reader.js';
import { FieldWriter } from '../wire/field-writer.js';
import { BACKEND } from '../wire/message-codes.js';

/**
 * ErrorResponse and NoticeResponse fields that cannot carry a data value: severity, SQLSTATE, cursor positions and
 * the server's source location. Every other field (message, detail, hint, context, internal query, the schema,
 * table, column, type and constraint names, and any field a later server adds) is masked: an allow-list, so a new
 * field is masked rather than leaked.
 * https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
const FIXED_FIELDS: ReadonlySet<number> = new Set(['S', 'V', 'C', 'P', 'p', 'F', 'L', 'R'].map((c) => c.charCodeAt(0)));
const MESSAGE_FIELD = 'M'.charCodeAt(0);
const CODE_FIELD = 'C'.charCodeAt(0);

/**
 * SQLSTATE classes whose messages quote the offending value itself (22: data exception, `invalid input syntax for
 * type integer: "..."`; 23: integrity constraint violation, `Key (email)=(...)`). Under column rules the value may be
 * one no detector recognises (a name, a bare number), and the column it came from is not known here: the quoted
 * and parenthesised parts of these errors are withheld.
 */
const VALUE_QUOTING_CLASSES: ReadonlySet<string> = new Set(['22', '23']);
/** A quoted value, `Key (...)=(value)` and `Failing row contains (values)`. */
const QUOTED = /"(?:[^"]|"")*"|=\(.*\)|contains \(.*\)/g;
const WITHHELD = '[WITHHELD]';

/** An ErrorResponse or NoticeResponse with its values masked, and its SQLSTATE and message for the session's record. */
export interface MaskedErrorMessage {
  readonly bytes: Buffer;
  readonly code: string | undefined;
  readonly message: string | undefined;
}

/**
 * Masks the value-carrying fields of an ErrorResponse or NoticeResponse (`frame`: the whole message; `body`: after
 * its length word) with the caller's masking plan: content scanning, and under column rules the values PostgreSQL
 * quotes in data errors withheld. `select email::int from items` otherwise answers with the email in the message.
 * The original bytes are kept when nothing changed.
 */
export function maskErrorMessage(
  frame: Buffer,
  body: Buffer,
  plan: MaskingPlan,
  counts: MaskCounts,
): MaskedErrorMessage {
  const reader = new FieldReader(body, 'ErrorResponse');
  const fields: [number, string][] = [];
  for (let type = reader.byte(); type !== 0; type = reader.byte()) fields.push([type, reader.cstring()]);
  const code = fields.find(([type]) => type === CODE_FIELD)?.[1];
  const withhold = plan.columns.length > 0 && code !== undefined && VALUE_QUOTING_CLASSES.has(code.slice(0, 2));
  let changed = false;
  const masked = fields.map(([type, value]): [number, string] => {
    if (FIXED_FIELDS.has(type)) return [type, value];
    let result = plan.redactor === undefined ? value : plan.redactor.mask(value, counts);
    if (withhold) result = withholdQuoted(result, counts);
    if (result !== value) changed = true;
    return [type, result];
  });
  const message = masked.find(([type]) => type === MESSAGE_FIELD)?.[1];
  if (!changed) return { bytes: frame, code, message };
  const writer = new FieldWriter();
  for (const [type, value] of masked) writer.byte(type).cstring(value);
  return { bytes: writer.byte(0).message(frame[0] as number), code, message };
}

/**
 * Masks the payload (and channel name) of a NotificationResponse: `NOTIFY` and `pg_notify` send any text, from any
 * session, to every listener.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NOTIFICATIONRESPONSE
 */
export function maskNotification(frame: Buffer, body: Buffer, plan: MaskingPlan, counts: MaskCounts): Buffer {
  const reader = new FieldReader(body, 'NotificationResponse');
  const processId = reader.int32();
  const channel = reader.cstring();
  const payload = reader.cstring();
  const redactor = plan.redactor;
  // Column rules cannot apply to a payload, whose origin is unknown: without content scanning it is withheld.
  const maskedChannel = redactor === undefined ? channel : redactor.mask(channel, counts);
  const maskedPayload =
    redactor === undefined
      ? plan.columns.length > 0 && payload !== ''
        ? WITHHELD
        : payload
      : redactor.mask(payload, counts);
  if (maskedChannel === channel && maskedPayload === payload) return frame;
  return new FieldWriter()
    .int32(processId)
    .cstring(maskedChannel)
    .cstring(maskedPayload)
    .message(BACKEND.NotificationResponse);
}

/**
 * A ParameterStatus with its value content-scanned: settings the server reports when they change
 * (`application_name`, `search_path`...) can be set from data (`set_config('application_name', email, false)`).
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS
 */
export function maskSetting(frame: Buffer, name: string, value: string, plan: MaskingPlan, counts: MaskCounts): Buffer {
  const masked = plan.redactor === undefined ? value : plan.redactor.mask(value, counts);
  if (masked === value) return frame;
  return new FieldWriter().cstring(name).cstring(masked).message(BACKEND.ParameterStatus);
}

function withholdQuoted(text: string, counts: MaskCounts): string {
  return text.replace(QUOTED, (quoted) => {
    counts.add('value');
    if (quoted.startsWith('"')) return `"${WITHHELD}"`;
    return quoted.startsWith('=') ? `=(${WITHHELD})` : `contains (${WITHHELD})`;
  });
}
