import type { ClassifiedStatement } from '../sql/classify.js';

/** What the gateway knows about one prepared statement (protocol Parse or SQL PREPARE): its classification. */
export interface PreparedStatement {
  readonly statements: readonly ClassifiedStatement[];
  readonly text: string;
}

/** Statement and portal names as one backend session sees them. The empty name is the unnamed statement/portal. */
class NameSpace {
  statements = new Map<string, PreparedStatement>();
  /** A portal keeps the statement it was bound to, even if that statement is closed or replaced later. */
  portals = new Map<string, PreparedStatement | undefined>();

  clone(): NameSpace {
    const copy = new NameSpace();
    copy.statements = new Map(this.statements);
    copy.portals = new Map(this.portals);
    return copy;
  }
}

/** One change a frontend message makes to the names, with every value it needs captured when it was sent. */
export type NameChange = (names: NameSpace) => void;

/**
 * Prepared statements and portals, tracked in two views so policy always decides on what the backend will run.
 *
 * `tentative` assumes every message already forwarded succeeds: it is what an Execute sent now will find, since the
 * backend skips the rest of a batch after any error. `confirmed` only holds changes the backend acknowledged
 * (ParseComplete, BindComplete, CloseComplete). When the backend reports an error, it has skipped everything up to
 * Sync, so the tentative view is rebuilt from the confirmed one plus the changes still in flight. A name the backend
 * holds but the gateway does not know classifies as unknown, which policy denies: the views may only err that way.
 */
export class PreparedStatements {
  private confirmed = new NameSpace();
  private tentative = new NameSpace();

  /** The statement an Execute or SQL EXECUTE would reach now. */
  statement(name: string): PreparedStatement | undefined {
    return this.tentative.statements.get(name);
  }

  /** The statement a portal was bound to; undefined when the portal is unknown or bound to an unknown statement. */
  portal(name: string): PreparedStatement | undefined {
    return this.tentative.portals.get(name);
  }

  /** Parse or SQL PREPARE. */
  static define(name: string, statement: PreparedStatement): NameChange {
    return (names) => void names.statements.set(name, statement);
  }

  /** Close of a statement, DEALLOCATE. */
  static forget(name: string): NameChange {
    return (names) => void names.statements.delete(name);
  }

  /** DEALLOCATE ALL, DISCARD ALL: every named statement goes; the unnamed one stays. */
  static forgetAllNamed(): NameChange {
    return (names) => {
      for (const name of names.statements.keys()) if (name !== '') names.statements.delete(name);
    };
  }

  /** Bind: resolves the statement now, as the backend will when it processes this Bind. */
  bind(portal: string, statementName: string): NameChange {
    const statement = this.tentative.statements.get(statementName);
    return (names) => void names.portals.set(portal, statement);
  }

  static closePortal(name: string): NameChange {
    return (names) => void names.portals.delete(name);
  }

  /** A simple Query replaces the unnamed statement and portal. */
  static simpleQuery(): NameChange {
    return (names) => {
      names.statements.delete('');
      names.portals.delete('');
    };
  }

  /** Applies a change as sent (before the backend acknowledged it). */
  stage(change: NameChange): void {
    change(this.tentative);
  }

  /** Applies a change the backend acknowledged. */
  confirm(change: NameChange): void {
    change(this.confirmed);
  }

  /** Applies a change to both views at once: only for removals, which can only make the gateway stricter. */
  forgetNow(change: NameChange): void {
    change(this.confirmed);
    change(this.tentative);
  }

  /** After an error: the backend dropped the in-flight changes up to Sync; `inFlight` are those still to come. */
  rebuild(inFlight: Iterable<NameChange>): void {
    this.tentative = this.confirmed.clone();
    for (const change of inFlight) change(this.tentative);
  }

  /** A transaction ended (ReadyForQuery `I`): the backend dropped every portal. */
  endTransaction(inFlight: Iterable<NameChange>): void {
    this.confirmed.portals.clear();
    this.rebuild(inFlight);
  }
}
