import { createHash } from 'node:crypto';
import type { AuditEvent, AuditEventInput } from '../audit/event.js';
import { GatehouseError } from '../core/errors.js';

/** The `prevHash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

export interface HashedContent {
  readonly id: number;
  readonly sessionId: string;
  readonly type: string;
  readonly at: number;
  /** The payload's JSON text, exactly as stored. */
  readonly payloadJson: string;
}

/**
 * sha256 hex over the previous hash and this event's content: a JSON array of the fixed fields, then the payload's
 * JSON text as is. Unambiguous, since a JSON array ends at its own closing bracket; and the payload (the bulk) is
 * hashed without being escaped a second time. A verifier reading events back may use `JSON.stringify(event.payload)`
 * as `payloadJson`, since JSON.stringify's output is a fixed point of parse-then-stringify.
 */
export function eventHash(prevHash: string, content: HashedContent): string {
  const header = JSON.stringify([prevHash, content.id, content.sessionId, content.type, content.at]);
  return createHash('sha256').update(header).update(content.payloadJson).digest('hex');
}

/** The last event of the chain, or nothing yet. */
export interface ChainHead {
  readonly id: number;
  readonly hash: string;
}

export interface ChainedEvent extends AuditEvent {
  readonly payloadJson: string;
}

/**
 * Assigns ids and hashes to events that follow `head`. Serialises every payload first, so a payload that is not JSON
 * fails the whole batch before anything is written.
 */
export function chainEvents(head: ChainHead | undefined, events: readonly AuditEventInput[]): ChainedEvent[] {
  let id = head?.id ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    const payloadJson = serialise(event);
    id += 1;
    const hash = eventHash(prevHash, { id, sessionId: event.sessionId, type: event.type, at: event.at, payloadJson });
    // The returned payload is the parsed text, so callers see exactly what a later read returns; parsed only when
    // read, since the recorder on the hot path never looks at it.
    let parsed: Record<string, unknown> | undefined;
    const chained: ChainedEvent = {
      id,
      sessionId: event.sessionId,
      type: event.type,
      at: event.at,
      get payload() {
        parsed ??= JSON.parse(payloadJson) as Record<string, unknown>;
        return parsed;
      },
      prevHash,
      hash,
      payloadJson,
    };
    prevHash = hash;
    return chained;
  });
}

function serialise(event: AuditEventInput): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(event.payload);
  } catch (error) {
    throw new GatehouseError('internal', `the ${event.type} audit payload is not JSON-serialisable`, { cause: error });
  }
  if (typeof json !== 'string' || !json.startsWith('{')) {
    throw new GatehouseError('internal', `the ${event.type} audit payload is not a JSON object`);
  }
  return json;
}

/** Drops the storage-only field before handing events to callers, keeping the payload lazy. */
export function toAuditEvent(event: ChainedEvent): AuditEvent {
  return {
    id: event.id,
    sessionId: event.sessionId,
    type: event.type,
    at: event.at,
    get payload() {
      return event.payload;
    },
    prevHash: event.prevHash,
    hash: event.hash,
  };
}
