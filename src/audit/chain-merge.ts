import type { AuditEvent } from '../core/audit-event.js';
import type { Store } from '../store/store.js';

/** Time, then chain, then position: one order for events of several chains, the same on every read. */
function inTimeOrder(a: AuditEvent, b: AuditEvent): number {
  return a.at - b.at || (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0) || a.seq - b.seq;
}

/**
 * Merges chains' events (each list in chain order) into time order, at most `limit` of them, taking from each chain
 * only a prefix of its list: a cursor per chain then never passes an event that was not taken. Within a chain the
 * order is the chain's own, even where a clock stepped back.
 */
export function mergeChains(lists: readonly (readonly AuditEvent[])[], limit: number): AuditEvent[] {
  const next = lists.map(() => 0);
  const merged: AuditEvent[] = [];
  while (merged.length < limit) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const candidate = (lists[i] as readonly AuditEvent[])[next[i] as number];
      if (candidate === undefined) continue;
      const current = best < 0 ? undefined : (lists[best] as readonly AuditEvent[])[next[best] as number];
      if (current === undefined || inTimeOrder(candidate, current) < 0) best = i;
    }
    if (best < 0) break;
    merged.push((lists[best] as readonly AuditEvent[])[next[best] as number] as AuditEvent);
    next[best] = (next[best] as number) + 1;
  }
  return merged;
}

/**
 * Every chain's events in time order, a page at a time, from per-chain positions (`after`, 0 where absent), for one
 * export or report over several instances' chains. Events whose time is before `since` are skipped.
 */
export async function* eventsInTimeOrder(
  store: Store,
  options: { after?: ReadonlyMap<string, number>; since?: number; pageSize?: number } = {},
): AsyncGenerator<AuditEvent[]> {
  const pageSize = options.pageSize ?? 1000;
  const chains = await store.listChains();
  const cursors = new Map(chains.map((c) => [c, options.after?.get(c) ?? 0]));
  const buffers = new Map<string, AuditEvent[]>(chains.map((c) => [c, []]));
  const exhausted = new Set<string>();
  for (;;) {
    for (const chain of chains) {
      const buffer = buffers.get(chain) as AuditEvent[];
      // A page entirely before `since` leaves the buffer empty: read on.
      while (buffer.length === 0 && !exhausted.has(chain)) {
        const page = await store.readChain(chain, cursors.get(chain) ?? 0, pageSize);
        if (page.length < pageSize) exhausted.add(chain);
        const last = page.at(-1);
        if (last) cursors.set(chain, last.seq);
        const since = options.since;
        buffer.push(...(since === undefined ? page : page.filter((e) => e.at >= since)));
      }
    }
    // Every chain with more to read has something buffered: merging up to the shortest buffer keeps the order
    // across pages.
    const lists = chains.map((c) => buffers.get(c) as AuditEvent[]);
    const open = chains.filter((c) => !exhausted.has(c)).map((c) => (buffers.get(c) as AuditEvent[]).length);
    const merged = mergeChains(lists, Math.min(pageSize, ...open));
    if (merged.length === 0) return;
    for (const e of merged) (buffers.get(e.chain) as AuditEvent[]).shift();
    yield merged;
  }
}
