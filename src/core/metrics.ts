import type { Verdict } from './decision.js';
import type { ProtocolName } from './operation.js';

/**
 * How a request or statement ended: the `outcome` label of `gatehouse_requests_total`, the same on every protocol.
 * - `ok`: it ran and the backend answered (whatever the answer's status);
 * - `error`: it was to run and failed (backend error, backend unreachable, malformed or unroutable request, the
 *   audit record could not be made durable, a masking failure, a cut stream);
 * - `denied`: the gateway refused it on its own: a policy rule, a budget, a threshold, tenant confinement;
 * - `review`: policy sent it to review and it did not run: still pending, denied by an approver, expired, withdrawn
 *   (an approved one counts as what became of it when it ran);
 * - `unauthenticated`: the token was missing or rejected, so no operation was opened.
 */
export type RequestOutcome = 'ok' | 'error' | 'denied' | 'review' | 'unauthenticated';

/**
 * A counter whose owner keeps the running totals (a cache's hits, say) and is read at each scrape, so the hot path
 * pays no metrics call. `read` returns the totals by the counter's one label.
 */
export interface ScrapedCounter {
  readonly name: string;
  readonly help: string;
  readonly label: string;
  read(): Readonly<Record<string, number>>;
}

/**
 * What the gateway counts, as protocols, sessions and the composition see it: no metrics library in sight (the
 * Prometheus implementation is `src/admin/metrics.ts`). Protocols report outcomes through `OperationHandle.finish`
 * (or `countUnrecorded` in `src/session/outcome.ts` when no operation was opened), not with `countRequest`.
 */
export interface Metrics {
  /** A policy decision (`Session.open`). */
  countDecision(protocol: ProtocolName, resource: string, verdict: Verdict): void;
  /** How a request or statement ended (see `RequestOutcome`). */
  countRequest(protocol: ProtocolName, resource: string, outcome: RequestOutcome): void;
  /** A rejected credential. */
  countAuthFailure(protocol: ProtocolName): void;
  /** Seconds until the backend answered: response headers for HTTP, completion for SQL. */
  observeUpstream(protocol: ProtocolName, resource: string, seconds: number): void;
  /** A caller's session opened or ended; every `sessionOpened` is matched by one `sessionClosed`. */
  sessionOpened(protocol: ProtocolName): void;
  sessionClosed(protocol: ProtocolName): void;
  /** Adds a counter read at each scrape; a name already registered keeps its first source. */
  registerCounter(counter: ScrapedCounter): void;
}
