import type { ExactOperation } from '../../../approvals/review.js';
import { type ClassifiedStatement, classifySql } from '../sql/classify.js';
import type { ReadFunctions } from '../sql/read-functions.js';
import { type NameChange, type PreparedStatement, PreparedStatements } from './prepared-statements.js';
import { bindParameters } from './statement-approval.js';

/** Portals whose Bind parameters are remembered for a review (clients with ever-new portal names stay bounded). */
const BOUND_PORTALS = 64;

/** What an Execute runs: the portal's statement and its statements as classified now. */
export interface PortalStatements {
  readonly prepared: PreparedStatement;
  readonly statements: readonly ClassifiedStatement[];
}

/**
 * The names one client's statements go by, and SQL classified against them: prepared statements and portals
 * (protocol Parse, Bind and Close, SQL PREPARE and DEALLOCATE; staged until the backend confirms, see
 * PreparedStatements), and the parameters last bound to each portal, which a review of its Execute shows.
 * Each message's change is staged here and returned, to be confirmed when the backend answers it.
 */
export class StatementNames {
  readonly prepared = new PreparedStatements();
  /** The last Bind body per portal. */
  private readonly bound = new Map<string, Buffer>();
  /** A large statement classified on a worker thread (see parse-pool.ts), for the message about to be handled. */
  private preclassified: { readonly sql: string; readonly statements: ClassifiedStatement[] } | undefined;

  /** `statements` are what `sql` classifies as: the next `classify(sql)` returns them. */
  preclassify(sql: string, statements: ClassifiedStatement[]): void {
    this.preclassified = { sql, statements };
  }

  /** `readFunctions`: the resource's functions that count as plain reads. */
  constructor(private readonly readFunctions?: ReadFunctions) {}

  /** `sql` classified, `EXECUTE name` as the statement prepared under that name. */
  classify(sql: string): ClassifiedStatement[] {
    const pre = this.preclassified;
    this.preclassified = undefined;
    if (pre !== undefined && pre.sql === sql) return pre.statements;
    return classifySql(sql, {
      ...(this.readFunctions === undefined ? {} : { readFunctions: this.readFunctions }),
      preparedStatement: (name) => {
        const prepared = this.prepared.statement(name);
        return prepared?.statements.length === 1 ? prepared.statements[0] : undefined;
      },
    });
  }

  parse(name: string, sql: string): NameChange {
    return this.stage(PreparedStatements.define(name, { statements: this.classify(sql), text: sql }));
  }

  bind(portal: string, statement: string, body: Buffer): NameChange {
    this.bound.delete(portal);
    if (this.bound.size >= BOUND_PORTALS) this.bound.delete(this.bound.keys().next().value as string);
    this.bound.set(portal, body);
    return this.stage(this.prepared.bind(portal, statement));
  }

  close(target: 'S' | 'P', name: string): NameChange {
    if (target === 'P') this.bound.delete(name);
    return this.stage(target === 'S' ? PreparedStatements.forget(name) : PreparedStatements.closePortal(name));
  }

  /** A simple Query (or the refusal sent in its place): it closes the unnamed portal and statement. */
  simpleQuery(): NameChange {
    return this.stage(PreparedStatements.simpleQuery());
  }

  /**
   * What an Execute of `portal` runs, or undefined when the portal is not bound to a statement the gateway
   * classified. Statements whose meaning depends on prepared names (SQL EXECUTE) are classified again now.
   */
  portal(portal: string): PortalStatements | undefined {
    const prepared = this.prepared.portal(portal);
    if (prepared === undefined) return undefined;
    const statements = prepared.statements.some((s) => s.executes !== undefined)
      ? this.classify(prepared.text)
      : prepared.statements;
    return { prepared, statements };
  }

  /** What an Execute runs, for its review: the statement's text and the portal's parameters. */
  exact(portal: string, prepared: PreparedStatement | undefined): ExactOperation {
    const bound = this.bound.get(portal);
    const parameters = bound === undefined ? [] : bindParameters(bound);
    return { protocol: 'postgres', sql: prepared?.text ?? '', ...(parameters.length > 0 ? { parameters } : {}) };
  }

  /**
   * SQL PREPARE/DEALLOCATE share the namespace of protocol-level statements. Names a statement may change are
   * forgotten before it runs (so a failure can only leave them unknown, which policy denies) and defined once it
   * succeeded (`define`).
   */
  forget(statements: readonly ClassifiedStatement[]): void {
    for (const s of statements) {
      if (s.deallocatesAll) this.prepared.forgetNow(PreparedStatements.forgetAllNamed());
      const name = s.prepares ?? s.deallocates;
      if (name !== undefined) this.prepared.forgetNow(PreparedStatements.forget(name));
    }
  }

  /** The names `statements` prepared, now that they succeeded; `inFlight`: the changes still awaiting an answer. */
  define(statements: readonly ClassifiedStatement[], inFlight: Iterable<NameChange>): void {
    const defined = statements.filter((s) => s.prepares !== undefined);
    if (defined.length === 0) return;
    for (const s of defined)
      this.prepared.confirm(PreparedStatements.define(s.prepares as string, { statements: [s], text: s.text }));
    this.prepared.rebuild(inFlight);
  }

  private stage(change: NameChange): NameChange {
    this.prepared.stage(change);
    return change;
  }
}
