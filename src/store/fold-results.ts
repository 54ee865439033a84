import type { SerialisedEvent } from './hash-chain.js';

/** An operation's payload text starts `{"seq":N,`. */
const OPERATION_PREFIX = /^\{"seq":(\d+),/;
/** A result's starts `{"seq":N,"durationMs":D` (then `,` or `}`). */
const RESULT_PREFIX = /^\{"seq":(\d+),"durationMs":(-?\d+)[,}]/;

/** Marks a result folded into its operation, dropped from the output. */
const FOLDED: SerialisedEvent = { sessionId: '', type: 'operation.result', at: 0, payloadJson: '' };

/**
 * Folds each `operation.result` into its `operation` when both are among `events` (one drain of the spool): the
 * operation then carries the result in `payload.result`, exactly as when the result joined its record in the
 * recorder's queue (`AuditRecorder.amend`: the same JSON text), and readers unfold it the same way (`unfoldResult`).
 * One row to chain, store and index instead of two, at no cost to the gateway's thread: with one client, or with
 * several whose results come in after their records were written, most results are recorded apart.
 *
 * Works on the JSON text, which Session writes with `seq` first (`{ seq, durationMs, ...}` for a result). Folded only
 * when nothing is lost: the result's time is the operation's plus its `durationMs` (how readers unfold it), and the
 * operation holds no `result` key yet. Anything else is left as it is.
 */
export function foldResults(events: readonly SerialisedEvent[]): readonly SerialisedEvent[] {
  if (!events.some((e) => e.type === 'operation.result')) return events;
  const out = events.slice();
  /** Operations that may take their result, by session and seq: their index in `out`. */
  const open = new Map<string, number>();
  let folded = 0;
  for (let i = 0; i < out.length; i++) {
    const event = out[i] as SerialisedEvent;
    if (event.type !== 'operation' && event.type !== 'operation.result') continue;
    if (event.type === 'operation') {
      const prefix = OPERATION_PREFIX.exec(event.payloadJson);
      // An unescaped `"result":` can only be a key: a string's quotes are escaped in JSON.
      if (prefix !== null && !event.payloadJson.includes('"result":')) open.set(`${event.sessionId}\n${prefix[1]}`, i);
      continue;
    }
    const prefix = RESULT_PREFIX.exec(event.payloadJson);
    if (prefix === null) continue;
    const key = `${event.sessionId}\n${prefix[1]}`;
    const at = open.get(key);
    if (at === undefined) continue;
    const operation = out[at] as SerialisedEvent;
    if (operation.at + Number(prefix[2]) !== event.at) continue;
    open.delete(key);
    // The result without its seq: `{"durationMs":...}`, as `amend` adds it.
    const result = `{${event.payloadJson.slice(event.payloadJson.indexOf(',') + 1)}`;
    out[at] = { ...operation, payloadJson: `${operation.payloadJson.slice(0, -1)},"result":${result}}` };
    out[i] = FOLDED;
    folded += 1;
  }
  return folded === 0 ? events : out.filter((e) => e !== FOLDED);
}
