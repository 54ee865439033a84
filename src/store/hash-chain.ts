import { hash } from 'node:crypto';
import type { AuditEventInput } from '../core/audit-event.js';
import { GatehouseError } from '../core/errors.js';

/** The `prevHash` of the first event of the default chain (the one chain of a SQLite store, and of older stores). */
export const GENESIS_HASH = '0'.repeat(64);

/** The chain of a SQLite store, and the one every event recorded before chains were per instance belongs to. */
export const DEFAULT_CHAIN = 'default';

/** What a gateway instance's chain may be called: it is stored in every event and names the chain in reports. */
export const CHAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The `prevHash` of a chain's first event. Each instance's chain starts from a value derived from its name, so a
 * chain's events cannot be passed off as another chain's; the default chain keeps the original all-zero genesis, so
 * logs written before chains were per instance verify unchanged.
 */
export function genesisHash(chain: string): string {
  return chain === DEFAULT_CHAIN ? GENESIS_HASH : hash('sha256', `gatehouse-chain-v1\n${chain}`, 'hex');
}

export interface HashedContent {
  /** The event's position in its chain (`seq`; on the default chain this equals its row id). */
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
  return linkHash(prevHash, content.id, content.sessionId, content.type, content.at, content.payloadJson);
}

/**
 * `eventHash` on loose fields. The header is JSON.stringify's output for the array, written out field by field: the
 * same text without building an array and an object per event (bench/results/recording.md).
 */
function linkHash(prevHash: string, id: number, sessionId: string, type: string, at: number, payloadJson: string) {
  const header = `[${jsonString(prevHash)},${jsonNumber(id)},${jsonString(sessionId)},${jsonString(type)},${jsonNumber(at)}]`;
  // One-shot crypto.hash (Node 20.12+): cheaper than a Hash object per event, on the recorder's hot path.
  return hash('sha256', header + payloadJson, 'hex');
}

/** Characters JSON.stringify escapes in a string (quote, backslash, controls) and surrogates (lone ones are escaped). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON escapes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON.stringify's output for a string, without its call when nothing needs escaping (hashes, ids and types, always):
 * those calls were most of chaining's cost (bench/results/recording.md).
 */
function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function jsonNumber(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : JSON.stringify(value);
}

/** The last event of a chain, or nothing yet: its position in the chain and its hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** A chain's head, named. */
export interface NamedChainHead extends ChainHead {
  readonly chain: string;
}

/** An event with its payload already JSON text: what is hashed and stored. */
export interface SerialisedEvent {
  readonly sessionId: string;
  readonly type: AuditEventInput['type'];
  readonly at: number;
  readonly payloadJson: string;
}

/** An event's place in its chain, before it is stored. */
export interface Link {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** Where an event landed: its row id (unique in the store, increasing with time) and its place in its chain. */
export interface ChainLink extends Link {
  readonly id: number;
  readonly chain: string;
}

/** A serialised event with its place in the chain: one stored row. */
export type ChainedEvent = SerialisedEvent & Link;

/**
 * Serialises every payload, so a payload that is not JSON fails the whole batch before anything is written.
 */
export function serialiseEvents(events: readonly AuditEventInput[]): SerialisedEvent[] {
  return events.map((event) => ({
    sessionId: event.sessionId,
    type: event.type,
    at: event.at,
    payloadJson: serialise(event),
  }));
}

/** Assigns chain positions and hashes to serialised events that follow `head` on `chain`. */
export function chainLinks(
  head: ChainHead | undefined,
  events: readonly SerialisedEvent[],
  chain: string = DEFAULT_CHAIN,
): Link[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? genesisHash(chain);
  return events.map((event) => {
    seq += 1;
    const link = {
      seq,
      prevHash,
      hash: linkHash(prevHash, seq, event.sessionId, event.type, event.at, event.payloadJson),
    };
    prevHash = link.hash;
    return link;
  });
}

/** Serialised events with positions and hashes following `head` on `chain` (see `serialiseEvents`). */
export function chainSerialised(
  head: ChainHead | undefined,
  serialised: readonly SerialisedEvent[],
  chain: string = DEFAULT_CHAIN,
): ChainedEvent[] {
  const links = chainLinks(head, serialised, chain);
  return serialised.map((event, i) => ({ ...event, ...(links[i] as Link) }));
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
