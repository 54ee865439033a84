import { GatehouseError } from '../../../core/errors.js';
import type { ClassifiedStatement } from '../sql/classify.js';

/**
 * Statements that change settings by name. PostgreSQL converts a message's text from the client encoding when it
 * reads the message, but reports a changed setting (ParameterStatus) only just before the next ReadyForQuery: a
 * `SET client_encoding` pipelined ahead of more messages would have those read in the new encoding before the
 * gateway learns of it. So after a statement that may change a setting, the messages behind it wait for its
 * ReadyForQuery (whose ParameterStatus reports are checked against the pinned values first, see BackendRelay).
 */
const SETTING_ACTIONS = new Set(['SET', 'RESET', 'DISCARD', 'DISCARD ALL', 'DO', 'CALL']);

/**
 * Whether `statements` may change a setting before the next ReadyForQuery: a SET, RESET, DISCARD, DO or CALL, any
 * function call (set_config, or a user function that calls it), or anything but a read or session statement (a
 * trigger may call set_config).
 */
export function mayChangeSettings(statements: readonly ClassifiedStatement[]): boolean {
  return statements.some(
    (s) => SETTING_ACTIONS.has(s.action) || s.callsFunctions === true || (s.kind !== 'read' && s.kind !== 'session'),
  );
}

/** Text that reads the same in every client encoding PostgreSQL supports: all of them extend ASCII. */
function isAscii(text: string): boolean {
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) > 0x7f) return false;
  return true;
}

/** Frontend messages whose SQL text the server converts from the client encoding as it reads them. */
const SQL_MESSAGES = new Set(['Query', 'Parse']);

/**
 * One session's barrier: `none`; `sync` after an Execute that may change a setting (until the client's Sync, SQL
 * text that is not pure ASCII is refused: pure ASCII reads the same whatever the encoding, and Bind parameters are
 * data, never SQL); `ready` once that Sync, or a Query that may change a setting, is sent (every later message waits
 * for ReadyForQuery: Query and Parse only, see ProxySession.pump). Waiting instead of refusing in `sync` could
 * deadlock: the Sync is behind the waiting message.
 */
export class SettingsBarrier {
  private state: 'none' | 'sync' | 'ready' = 'none';
  private waiters: (() => void)[] = [];

  /** A Query (`simple`) or an Execute (`extended`) of `statements` was sent to the backend. */
  sent(statements: readonly ClassifiedStatement[], mode: 'simple' | 'extended'): void {
    if (!mayChangeSettings(statements)) return;
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

  /** A refusal for a message of `type` (with SQL text `sql`) that may not be sent now, if any. */
  refusal(type: string, sql: string | undefined): GatehouseError | undefined {
    if (this.state !== 'sync' || !SQL_MESSAGES.has(type) || isAscii(sql ?? '')) return undefined;
    return new GatehouseError(
      'policy.denied',
      'gatehouse: after a statement that may change session settings, SQL text beyond ASCII must wait for a Sync',
      { details: { sqlstate: '0A000' } },
    );
  }

  /** Resolves at the next ReadyForQuery (or when the session closes). */
  untilReady(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** ReadyForQuery arrived, its ParameterStatus reports checked (or the session is closing): waiting messages go. */
  ready(): void {
    // An Execute sent since (while Bind and Execute passed the barrier) keeps its own `sync` state.
    if (this.state === 'ready') this.state = 'none';
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
