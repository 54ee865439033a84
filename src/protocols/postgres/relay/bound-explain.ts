import { randomBytes } from 'node:crypto';
import { FieldWriter } from '../wire/field-writer.js';
import { BACKEND, FRONTEND } from '../wire/message-codes.js';

/**
 * The messages of an EXPLAIN (FORMAT JSON) of an extended-protocol statement with the parameters its portal was
 * bound with, sent on the session's own connection in the middle of the client's batch (before its Execute, after
 * its Parse and Bind): Close, Parse, Bind, Execute, Close, Close, Flush. No Sync: that would end the client's
 * implicit transaction and drop its portal. The planner sees the values, as it does for the client's statement
 * (a custom plan), so `id <= $1` is estimated for the bound value, not a default selectivity.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */

/** Answers that complete one message of the probe, in order (its first Close through its last); no RFQ comes. */
export const BOUND_EXPLAIN_STEPS = 6;
export const BOUND_EXPLAIN_COMPLETIONS: ReadonlySet<number> = new Set([
  BACKEND.CloseComplete,
  BACKEND.ParseComplete,
  BACKEND.BindComplete,
  BACKEND.CommandComplete,
]);

/**
 * Per session, a name no client can guess, so the probe's statement and portal never meet the client's. The first
 * Close removes one a failed earlier probe left (closing a missing name is no error).
 */
export function boundExplainName(): string {
  return `gatehouse_plan_${randomBytes(8).toString('hex')}`;
}

export interface BoundStatement {
  readonly text: string;
  /** The parameter type OIDs of the client's Parse (0: inferred by the server, as for the client's). */
  readonly parameterTypes: readonly number[];
  /** The body of the client's Bind of the portal. */
  readonly bindBody: Buffer;
}

/** The probe's messages in one buffer; undefined when the Bind body is not what the protocol says. */
export function boundExplainMessages(name: string, bound: BoundStatement): Buffer | undefined {
  const parameters = bindParameterSection(bound.bindBody);
  if (parameters === undefined) return undefined;
  const parse = new FieldWriter().cstring(name).cstring(`EXPLAIN (FORMAT JSON) ${bound.text}\n`);
  parse.int16(bound.parameterTypes.length);
  for (const type of bound.parameterTypes) parse.int32(type | 0);
  return Buffer.concat([
    close('S', name),
    parse.message(FRONTEND.Parse),
    // Parameter formats and values as the client bound them; no result formats: the plan comes back as text.
    new FieldWriter().cstring(name).cstring(name).bytes(parameters).int16(0).message(FRONTEND.Bind),
    new FieldWriter().cstring(name).int32(0).message(FRONTEND.Execute),
    close('P', name),
    close('S', name),
    new FieldWriter().message(FRONTEND.Flush),
  ]);
}

function close(target: 'S' | 'P', name: string): Buffer {
  return new FieldWriter().byte(target.charCodeAt(0)).cstring(name).message(FRONTEND.Close);
}

/** The parameter format codes and values of a Bind body (between its names and its result formats). */
function bindParameterSection(body: Buffer): Buffer | undefined {
  let offset = body.indexOf(0) + 1;
  if (offset <= 0) return undefined;
  offset = body.indexOf(0, offset) + 1;
  if (offset <= 0) return undefined;
  const start = offset;
  if (offset + 2 > body.length) return undefined;
  const formats = body.readInt16BE(offset);
  offset += 2 + 2 * formats;
  if (formats < 0 || offset + 2 > body.length) return undefined;
  const count = body.readInt16BE(offset);
  offset += 2;
  if (count < 0) return undefined;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > body.length) return undefined;
    const length = body.readInt32BE(offset);
    offset += 4 + Math.max(length, 0);
    if (offset > body.length) return undefined;
  }
  return body.subarray(start, offset);
}
