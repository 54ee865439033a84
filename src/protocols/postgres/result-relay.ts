import { GatehouseError } from '../../core/errors.js';
import type { ResultMasking, RowShape } from './result-masking.js';
import {
  decodeBindResultFormats,
  decodeRowDescription,
  type FieldDescription,
  withFormats,
} from './row-description.js';
import type { StatementRun } from './statement-run.js';
import { decodeCommandComplete } from './wire/backend-messages.js';
import type { Frame } from './wire/frame-reader.js';

/** Rows of each result kept (as text) for the audit capture; the capture's byte budget cuts it shorter. */
const CAPTURE_ROWS = 50;

/**
 * The result side of one connection, between the backend and the client: follows the current result's columns
 * (its RowDescription, or the Describe of the statement or portal an Execute ran), keeps rows for the audit capture
 * and masks DataRow and COPY TO STDOUT data for callers with a masking profile. Errors it throws are `internal`
 * GatehouseErrors: masking could not be applied, and the session must end rather than relay raw values.
 */
export class ResultRelay {
  /** The current result's columns (from the last RowDescription) and what masking does to them. */
  private fields: FieldDescription[] | undefined;
  private shape: RowShape | undefined;
  private copyOut = false;
  /** Descriptions of prepared statements and portals, for Executes whose rows come without a RowDescription. */
  private readonly described = new Map<string, FieldDescription[]>();
  private readonly portals = new Map<string, { statement: string; formats: number[] }>();

  constructor(readonly masking: ResultMasking | undefined) {}

  /** Bind: the statement and result formats of its portal (rows of a described statement need both). */
  bind(portal: string, statement: string, body: Buffer): void {
    if (this.masking) this.portals.set(portal, { statement, formats: decodeBindResultFormats(body) });
  }

  /** A RowDescription whose column names must be read from the catalog before its rows can be masked. */
  lookup(frame: Frame): Promise<void> | undefined {
    return this.masking?.lookup(decodeRowDescription(frame.body));
  }

  rowDescription(frame: Frame): void {
    this.fields = decodeRowDescription(frame.body);
    this.shape = this.masking?.shape(this.fields);
  }

  /** A Describe (`S:name` or `P:name`) was answered with the current RowDescription: remembered for its Executes. */
  describedAs(target: string): void {
    if (this.fields === undefined) return;
    this.described.set(target, this.fields);
    // A statement's description has no result formats yet: its rows come later, described by their portal.
    if (target.startsWith('S:')) this.end();
  }

  commandComplete(frame: Frame, run: StatementRun | undefined): void {
    run?.handle.capture({ type: 'sql-complete', tag: decodeCommandComplete(frame.body) });
    this.end();
  }

  /** The current result set ended (CommandComplete, ErrorResponse, ReadyForQuery): its description no longer applies. */
  end(): void {
    this.fields = undefined;
    this.shape = undefined;
    this.copyOut = false;
  }

  /** Puts the masked rows written to `out` in it: before `out` is written or held. */
  seal(out: Buffer[]): void {
    this.masking?.seal(out);
  }

  dataRow(frame: Frame, run: StatementRun | undefined, out: Buffer[]): void {
    if (run === undefined) {
      out.push(frame.bytes);
      return;
    }
    run.rows++;
    const fields = this.fields ?? this.describedFor(run.portal);
    if (fields !== undefined && this.fields === undefined) {
      this.fields = fields;
      this.shape = this.masking?.shape(fields);
    }
    const capture = run.capturedRows < CAPTURE_ROWS;
    if (capture && fields !== undefined && run.capturedRows === 0)
      run.handle.capture({ type: 'sql-columns', columns: fields.map((f) => f.name) });
    if (this.masking === undefined) {
      out.push(frame.bytes);
      if (capture && fields !== undefined) {
        run.capturedRows++;
        run.handle.capture({ type: 'sql-row', values: textValues(frame.body, fields) });
      }
      return;
    }
    if (this.shape === undefined) throw maskingFailedForUnknownShape();
    if (!this.shape.active && !capture) {
      out.push(frame.bytes);
      return;
    }
    const values = this.masking.row(frame.bytes, this.shape, run.counts, capture, out);
    if (values) {
      run.capturedRows++;
      run.handle.capture({ type: 'sql-row', values });
    }
  }

  copyOutResponse(frame: Frame): void {
    if (this.masking === undefined) return;
    // COPY's data carries no table or column names: column rules cannot be applied to it, so it is refused.
    if (this.masking.plan.columns.length > 0) throw copyRefused('column rules apply to this caller; use SELECT');
    if (frame.body[0] !== 0) throw copyRefused('binary COPY cannot be masked; use text or CSV');
    this.copyOut = true;
  }

  copyData(frame: Frame, run: StatementRun | undefined, out: Buffer[]): void {
    if (this.copyOut && this.masking && run !== undefined)
      out.push(this.masking.copyData(frame.bytes, frame.body, run.counts));
    else out.push(frame.bytes);
  }

  copyDone(): void {
    this.copyOut = false;
  }

  /** An Execute without a RowDescription in its answer: the description its portal (or statement) was given. */
  private describedFor(portal: string | undefined): FieldDescription[] | undefined {
    if (portal === undefined) return undefined;
    const direct = this.described.get(`P:${portal}`);
    if (direct !== undefined) return direct;
    const bound = this.portals.get(portal);
    const statement = bound === undefined ? undefined : this.described.get(`S:${bound.statement}`);
    return statement === undefined || bound === undefined ? undefined : withFormats(statement, bound.formats);
  }
}

function maskingFailedForUnknownShape(): GatehouseError {
  return new GatehouseError('internal', 'gatehouse: the result could not be masked, so it was withheld', {
    details: { reason: 'a DataRow arrived without a known RowDescription' },
  });
}

function copyRefused(why: string): GatehouseError {
  return new GatehouseError('internal', `gatehouse: COPY TO STDOUT cannot be masked here (${why})`, {
    details: { reason: why },
  });
}

/** A DataRow's values as text for the audit capture: text-format values only (binary ones as null). */
function textValues(body: Buffer, fields: readonly FieldDescription[]): (string | null)[] {
  const count = body.readInt16BE(0);
  const values: (string | null)[] = new Array(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      values[i] = null;
      continue;
    }
    values[i] = fields[i]?.format === 0 ? body.toString('utf8', offset, offset + length) : null;
    offset += length;
  }
  return values;
}
