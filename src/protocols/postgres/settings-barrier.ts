import { GatehouseError } from '../../core/errors.js';
import type { ClassifiedStatement } from './classify.js';

/**
 * Statements that change settings by name. PostgreSQL converts a message's text from the client encoding when it
 * reads the message, but reports a changed setting (ParameterStatus) only just before the next ReadyForQuery: a
 * `SET client_encoding` pipelined ahead of more messages would have those read in the new encoding before the
 * gateway learns of it. So after a statement that may change a setting, the messages behind it wait for its
 * ReadyForQuery (whose ParameterStatus reports are checked against the pinned values first, see BackendRelay).
 */
const SETTING_ACTIONS = new Set(['SET', 'RESET', 'DISCARD', 'DISCARD ALL', 'DO', 'CALL']);

/**
 * Whether `statements` may change a setting before the next ReadyForQuery. Simple Query (`lenient` false): any
 * function call or anything but a read or session statement, as holding costs one round trip only when the client
 * pipelines. Extended protocol (`lenient` true): function calls in reads are left to the read allow-list (the
 * classifier's, which keeps set_config and every volatile function out of reads), so batches of plain statements
 * keep flowing without a Sync after each.
 */
export function mayChangeSettings(statements: readonly ClassifiedStatement[], lenient: boolean): boolean {
  return statements.some(
    (s) =>
      SETTING_ACTIONS.has(s.action) ||
      (s.callsFunctions === true && !(lenient && s.kind === 'read')) ||
      (lenient
        ? s.kind === 'ddl' || s.kind === 'admin' || s.kind === 'unknown'
        : s.kind !== 'read' && s.kind !== 'session'),
  );
}

/** Frontend messages that carry text the server converts from the client encoding as it reads them. */
const TEXT_MESSAGES = new Set(['Query', 'Parse', 'Bind', 'FunctionCall']);

/**
 * One session's barrier: `none`; `sync` after an Execute that may change a setting (messages carrying text are
 * refused until the client's Sync); `ready` once that Sync, or a Query that may change a setting, is sent (every
 * later message waits for ReadyForQuery).
 */
export class SettingsBarrier {
  private state: 'none' | 'sync' | 'ready' = 'none';
  private waiters: (() => void)[] = [];

  /** A Query (`simple`) or an Execute (`extended`) of `statements` was sent to the backend. */
  sent(statements: readonly ClassifiedStatement[], mode: 'simple' | 'extended'): void {
    if (!mayChangeSettings(statements, mode === 'extended')) return;
    this.state = mode === 'simple' ? 'ready' : 'sync';
  }

  /** A Sync was sent. */
  synced(): void {
    if (this.state === 'sync') this.state = 'ready';
  }

  /** True when the next message must wait for `ready`. */
  get waiting(): boolean {
    return this.state === 'ready';
  }

  /** A refusal for a message of `type` that may not be sent now, if any. */
  refusal(type: string): GatehouseError | undefined {
    if (this.state !== 'sync' || !TEXT_MESSAGES.has(type)) return undefined;
    return new GatehouseError(
      'policy.denied',
      'gatehouse: a statement that may change session settings must be followed by Sync before the next statement is sent',
      { details: { sqlstate: '0A000' } },
    );
  }

  /** Resolves at the next ReadyForQuery (or when the session closes). */
  untilReady(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** ReadyForQuery arrived, its ParameterStatus reports checked (or the session is closing): waiting messages go. */
  ready(): void {
    this.state = 'none';
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
