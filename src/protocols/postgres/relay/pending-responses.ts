import type { GatehouseError } from '../../../core/errors.js';
import { BACKEND } from '../wire/message-codes.js';
import type { PlanProbe } from './plan-probe.js';
import type { NameChange } from './prepared-statements.js';
import type { StatementRun } from './statement-run.js';

/** What a forwarded frontend message waits for. `refusal` is the gateway's own erroring stand-in for a denied Execute. */
export type PendingKind = 'parse' | 'bind' | 'describe' | 'execute' | 'close' | 'sync' | 'query' | 'refusal';

/**
 * One forwarded message whose answer has not arrived yet. The backend answers in order, so these form a FIFO.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */
export interface PendingResponse {
  readonly kind: PendingKind;
  /** Change to prepared statements/portals, confirmed when the message completes. */
  readonly change?: NameChange;
  /** For `execute` and `query`: the allowed operation being run. */
  readonly run?: StatementRun;
  /** For a refused statement: what the client sees instead of the backend's stand-in error. */
  readonly refusal?: GatehouseError;
  /**
   * For `parse`, `bind` and `close`: what the message does to the result descriptions remembered for Executes that
   * come without a Describe (see `ResultRelay.described`), applied when the backend confirms the message.
   */
  readonly descriptions?: () => void;
  /** For `describe`: sent by the gateway itself (see `ResultRelay.describeBeforeExecute`); its answer is not relayed. */
  readonly injected?: boolean;
  /** For `query` and `execute`: run when the statement completed without error (SQL PREPARE bookkeeping). */
  readonly onSuccess?: () => void;
  /** For `query`: the gateway's own EXPLAIN (see plan-probe.ts); its answers go to the probe, never to the client. */
  readonly probe?: PlanProbe;
}

/**
 * The backend messages that complete each kind. An ErrorResponse also completes any extended-protocol message, and
 * then the backend skips everything up to Sync; a simple Query (and its stand-in) completes only at ReadyForQuery.
 */
const COMPLETIONS: Readonly<Record<PendingKind, readonly number[]>> = Object.assign(Object.create(null), {
  parse: [BACKEND.ParseComplete],
  bind: [BACKEND.BindComplete],
  describe: [BACKEND.RowDescription, BACKEND.NoData],
  execute: [BACKEND.CommandComplete, BACKEND.EmptyQueryResponse, BACKEND.PortalSuspended],
  close: [BACKEND.CloseComplete],
  sync: [BACKEND.ReadyForQuery],
  query: [BACKEND.ReadyForQuery],
  refusal: [],
} satisfies Record<PendingKind, readonly number[]>);

/** Kinds the protocol's extended-query error handling applies to (the backend then ignores messages until Sync). */
const EXTENDED: ReadonlySet<PendingKind> = new Set(['parse', 'bind', 'describe', 'execute', 'close', 'refusal']);

/** Kinds that run a statement, or end an implicit transaction (Sync). */
const STATUS_CHANGING: ReadonlySet<PendingKind> = new Set(['execute', 'sync', 'query', 'refusal']);

export class PendingResponses {
  private items: PendingResponse[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  get first(): PendingResponse | undefined {
    return this.items[this.head];
  }

  push(item: PendingResponse): void {
    this.items.push(item);
  }

  shift(): PendingResponse | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as PendingResponse;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** True when `code` from the backend completes the first pending message. */
  completesFirst(code: number): boolean {
    const first = this.first;
    return first !== undefined && COMPLETIONS[first.kind].includes(code);
  }

  /** True when an ErrorResponse now answers an extended-protocol message. */
  firstIsExtended(): boolean {
    const first = this.first;
    return first !== undefined && EXTENDED.has(first.kind);
  }

  /** Removes the messages the backend skips after an error: all up to the next Sync (kept). True if a Sync is pending. */
  dropUntilSync(): { dropped: PendingResponse[]; syncPending: boolean } {
    const dropped: PendingResponse[] = [];
    while (this.first !== undefined && this.first.kind !== 'sync') dropped.push(this.shift() as PendingResponse);
    return { dropped, syncPending: this.first !== undefined };
  }

  /**
   * True while a forwarded message that may begin or end a transaction is unanswered (a statement, a Sync, a refusal's
   * stand-in): until it is, the last ReadyForQuery's status may not be the backend's when the next message runs.
   */
  mayChangeTransactionStatus(): boolean {
    for (let i = this.head; i < this.items.length; i++) {
      const kind = this.items[i]?.kind;
      if (kind !== undefined && STATUS_CHANGING.has(kind)) return true;
    }
    return false;
  }

  /** True while a Query or Sync is unanswered: a ReadyForQuery is still to come. */
  awaitsReadyForQuery(): boolean {
    for (let i = this.head; i < this.items.length; i++) {
      const kind = this.items[i]?.kind;
      if (kind === 'query' || kind === 'sync') return true;
    }
    return false;
  }

  /** Name changes still in flight, in order. */
  *changes(): Iterable<NameChange> {
    for (let i = this.head; i < this.items.length; i++) {
      const change = this.items[i]?.change;
      if (change !== undefined) yield change;
    }
  }

  /** Everything still pending, emptying the queue (connection closing). */
  clear(): PendingResponse[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
