import type { AuditEvent } from '../core/audit-event.js';
import { eventHash, genesisHash } from '../store/hash-chain.js';
import type { SignedCheckpoint, Store, StoredCheckpoint } from '../store/store.js';
import { type CheckpointCheck, checkCheckpoint, type PublicKeyRing } from './checkpoint.js';

export type ProblemKind =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'rewritten'
  | 'unanchored'
  | 'forged-checkpoint';

export interface ChainProblem {
  readonly kind: ProblemKind;
  /** The chain's position where it first breaks (for a forged checkpoint, the position it claims to cover). */
  readonly eventId: number;
  readonly message: string;
}

export interface ChainReport {
  readonly chain: string;
  readonly ok: boolean;
  readonly events: number;
  /** First and last positions in the chain. */
  readonly firstId: number | null;
  readonly lastId: number | null;
  readonly checkpoints: number;
  /** Checkpoints whose signature was checked and is valid. */
  readonly signedCheckpoints: number;
  /** Of them, checkpoints that were sent out of the store (`--against`) and checked against it. */
  readonly externalCheckpoints: number;
  /** The signed checkpoint anchoring the first kept event after pruning, if history was pruned. */
  readonly anchor?: StoredCheckpoint;
  /** Events after the last valid signed checkpoint: intact, but an attacker could have appended them. */
  readonly unsignedTail: number;
  readonly problem?: ChainProblem;
}

export interface VerifyOptions {
  /** Public keys that may have signed checkpoints; without any, signatures cannot be checked. */
  readonly keys: PublicKeyRing;
  readonly pageSize?: number;
  /** Stop after this position (retention checks the part it is about to prune). */
  readonly untilId?: number;
  /**
   * Checkpoints that were sent out of the store (a sink's file): the chain must agree with them too, so a store whose
   * chain and checkpoints were both rewritten is still caught.
   */
  readonly external?: readonly SignedCheckpoint[];
}

export interface StoreReport {
  readonly ok: boolean;
  readonly chains: readonly ChainReport[];
}

/** Verifies every chain in the store (and every chain the external checkpoints name), each on its own. */
export async function verifyStore(store: Store, options: VerifyOptions): Promise<StoreReport> {
  const names = new Set(await store.listChains());
  for (const c of options.external ?? []) names.add(c.chain);
  const chains: ChainReport[] = [];
  for (const chain of [...names].sort()) chains.push(await verifyChain(store, chain, options));
  return { ok: chains.every((c) => c.ok), chains };
}

/** How far from its stored position an event's content is searched for, to tell moves from edits. */
const MAX_SHIFT = 8;

/**
 * Walks the whole chain in id order, recomputing every hash, and checks every checkpoint's signature and hash.
 * Stops at the first problem and classifies it: an event whose content no longer matches its hash (edited), a gap in
 * ids (deleted), an event that does not belong where it is (inserted, reordered), a chain that disagrees with a signed
 * checkpoint (rewritten) or ends before one (truncated), pruned history with no signed anchor (unanchored).
 */
export async function verifyChain(store: Store, chain: string, options: VerifyOptions): Promise<ChainReport> {
  const stored = await store.listCheckpoints(chain);
  // Sent-out checkpoints get negative ids, so messages can tell them from the store's.
  const external = (options.external ?? [])
    .filter((c) => c.chain === chain)
    .map((c, i): StoredCheckpoint => ({ ...c, id: -(i + 1) }));
  const checkpoints = [...stored, ...external];
  const status = new Map<number, CheckpointCheck>();
  for (const c of checkpoints) status.set(c.id, checkCheckpoint(c, options.keys));
  const canCheck = options.keys.size > 0;
  let signed = 0;
  let forged: ChainProblem | undefined;
  for (const c of checkpoints) {
    const s = status.get(c.id);
    if (s === 'valid') signed++;
    else if (canCheck && forged === undefined) {
      forged = {
        kind: 'forged-checkpoint',
        eventId: c.eventId,
        message:
          s === 'unknown-key'
            ? `${name(c)} (event ${c.eventId}) is signed with unknown key ${c.keyId}`
            : `${name(c)} (event ${c.eventId}) has an invalid signature: it was forged or altered`,
      };
    }
  }
  const trusted = checkpoints.filter((c) => status.get(c.id) === 'valid' || !canCheck);
  const byEvent = new Map<number, StoredCheckpoint[]>();
  for (const c of trusted) byEvent.set(c.eventId, [...(byEvent.get(c.eventId) ?? []), c]);

  const walk = new ChainWalk(store, chain, options.pageSize ?? 1000, options.untilId);
  let count = 0;
  let firstId: number | null = null;
  let lastId: number | null = null;
  let lastSignedId = 0;
  let anchor: StoredCheckpoint | undefined;
  const finish = (problem?: ChainProblem): ChainReport => {
    const p = forged ?? problem;
    return {
      chain,
      ok: p === undefined,
      events: count,
      firstId,
      lastId,
      checkpoints: checkpoints.length,
      signedCheckpoints: signed,
      externalCheckpoints: external.filter((c) => status.get(c.id) === 'valid').length,
      ...(anchor ? { anchor } : {}),
      unsignedTail: lastId === null ? 0 : lastId - Math.max(lastSignedId, (firstId ?? 1) - 1),
      ...(p ? { problem: p } : {}),
    };
  };

  let expected: Expected = { id: 1, prevHash: genesisHash(chain) };
  const first = await walk.peek(0);
  if (first && first.id !== 1) {
    // History was pruned: the first kept event must follow a signed checkpoint.
    anchor = trusted.find((c) => c.id > 0 && c.eventId === first.id - 1 && c.hash === first.prevHash);
    if (!anchor || !canCheck) {
      return finish({
        kind: 'unanchored',
        eventId: first.id,
        message: canCheck
          ? `events before ${first.id} are missing and no signed checkpoint anchors event ${first.id}: deleted, not pruned`
          : `events before ${first.id} were pruned; a public key is needed to check the anchoring checkpoint`,
      });
    }
    expected = { id: first.id, prevHash: first.prevHash };
    lastSignedId = anchor.eventId;
  }

  for (let e = await walk.next(); e !== undefined; e = await walk.next()) {
    const problem = diagnose(expected, e, await walk.peek(0), walk.recent);
    if (problem) return finish(problem);
    for (const c of byEvent.get(e.id) ?? []) {
      if (c.hash !== e.hash) {
        return finish({
          kind: 'rewritten',
          eventId: e.id,
          message: `event ${e.id} differs from ${name(c)}: the log was rewritten at or before event ${e.id}`,
        });
      }
      if (status.get(c.id) === 'valid') lastSignedId = e.id;
    }
    count++;
    firstId ??= e.id;
    lastId = e.id;
    walk.recent.set(e.hash, e.id);
    expected = { id: e.id + 1, prevHash: e.hash, prevPrevHash: e.prevHash };
  }

  if (options.untilId === undefined) {
    const beyond = trusted.filter((c) => c.eventId > (lastId ?? 0)).sort((a, b) => b.eventId - a.eventId)[0];
    if (beyond) {
      return finish({
        kind: 'truncated',
        eventId: (lastId ?? 0) + 1,
        message: `events ${(lastId ?? 0) + 1}..${beyond.eventId} are missing: ${name(beyond)} covers event ${beyond.eventId} but the log ends at ${lastId ?? 'nothing'}`,
      });
    }
  }
  return finish();
}

/** How a message names a checkpoint: the store's by its id, a sent-out one as such. */
function name(c: StoredCheckpoint): string {
  return c.id > 0 ? `signed checkpoint #${c.id}` : 'a signed checkpoint sent out of the store';
}

interface Expected {
  readonly id: number;
  readonly prevHash: string;
  readonly prevPrevHash?: string;
}

function diagnose(
  expected: Expected,
  e: AuditEvent,
  next: AuditEvent | undefined,
  recent: ReadonlyMap<string, number>,
): ChainProblem | undefined {
  const at = belongsAt(e);
  if (at === e.id) {
    if (e.id === expected.id && e.prevHash === expected.prevHash) return undefined;
    if (e.id > expected.id) {
      const gap = e.id - 1 === expected.id ? `event ${expected.id} is` : `events ${expected.id}..${e.id - 1} are`;
      return {
        kind: 'deleted',
        eventId: expected.id,
        message: `${gap} missing (deleted): event ${e.id} follows event ${expected.id - 1}`,
      };
    }
    return {
      kind: 'inserted',
      eventId: e.id - 1,
      message: `event ${e.id - 1} is not the event that event ${e.id} was written after: it was inserted or replaced`,
    };
  }
  if (at === undefined) {
    if (next && belongsAt(next) === e.id && next.prevHash === expected.prevHash) {
      return {
        kind: 'inserted',
        eventId: e.id,
        message: `event ${e.id} was inserted: the event stored after it was written as event ${e.id}`,
      };
    }
    return { kind: 'edited', eventId: e.id, message: `event ${e.id} was edited: its content does not match its hash` };
  }
  if (at < e.id) {
    const after = recent.get(e.prevHash);
    if (after === at - 1 && e.prevHash !== expected.prevHash) {
      const range = at === e.id - 1 ? `event ${at} was` : `events ${at}..${e.id - 1} were`;
      return {
        kind: 'inserted',
        eventId: at,
        message: `${range} inserted: event ${e.id} was written as event ${at}, right after event ${after}`,
      };
    }
    return {
      kind: 'reordered',
      eventId: e.id,
      message: `event ${e.id} was written as event ${at}: events were moved`,
    };
  }
  // Written at a later position than where it is stored now.
  if (next && belongsAt(next) === next.id + (at - e.id)) {
    const range = at - e.id === 1 ? `event ${e.id} was` : `events ${e.id}..${at - 1} were`;
    return {
      kind: 'deleted',
      eventId: e.id,
      message: `${range} deleted and the later events renumbered: event ${e.id} was written as event ${at}`,
    };
  }
  return {
    kind: 'reordered',
    eventId: e.id,
    message: `events are out of order at ${e.id}: the event stored as ${e.id} was written as event ${at}`,
  };
}

/** The id at which this event's content matches its hash: its own, a nearby one (moved), or none (edited). */
function belongsAt(e: AuditEvent): number | undefined {
  const payloadJson = JSON.stringify(e.payload);
  const matches = (id: number) =>
    eventHash(e.prevHash, { id, sessionId: e.sessionId, type: e.type, at: e.at, payloadJson }) === e.hash;
  if (matches(e.id)) return e.id;
  for (let d = 1; d <= MAX_SHIFT; d++) {
    if (matches(e.id + d)) return e.id + d;
    if (e.id - d >= 1 && matches(e.id - d)) return e.id - d;
  }
  return undefined;
}

/** Pages through the log with a small lookahead, remembering recent hashes to recognise inserted events. */
class ChainWalk {
  readonly recent = new BoundedMap<string, number>(4 * MAX_SHIFT);
  private buffer: AuditEvent[] = [];
  private afterId = 0;
  private done = false;

  constructor(
    private readonly store: Store,
    private readonly chain: string,
    private readonly pageSize: number,
    private readonly untilId: number | undefined,
  ) {}

  async next(): Promise<AuditEvent | undefined> {
    await this.fill();
    return this.buffer.shift();
  }

  async peek(index: number): Promise<AuditEvent | undefined> {
    await this.fill();
    return this.buffer[index];
  }

  private async fill(): Promise<void> {
    while (this.buffer.length < 2 && !this.done) {
      // Positions in the chain stand in for ids from here on: they are what the hashes cover.
      const page = (await this.store.readChain(this.chain, this.afterId, this.pageSize)).map((e) => ({
        ...e,
        id: e.seq,
      }));
      const kept = this.untilId === undefined ? page : page.filter((e) => e.id <= this.untilId!);
      this.buffer.push(...kept);
      if (page.length < this.pageSize || kept.length < page.length) this.done = true;
      this.afterId = page.at(-1)?.id ?? this.afterId;
    }
  }
}

class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.size > this.max) this.delete(this.keys().next().value as K);
    return this;
  }
}
