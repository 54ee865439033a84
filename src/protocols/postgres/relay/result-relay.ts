import { GatehouseError } from '../../../core/errors.js';
import { MaskCounts } from '../../../masking/counts.js';
import {
  type MaskedErrorMessage,
  maskErrorMessage,
  maskNotification,
  maskSetting,
} from '../masking/message-masking.js';
import type { ResultMasking, RowShape } from '../masking/result-masking.js';
import { decodeRowDescription, type FieldDescription } from '../masking/row-description.js';
import { decodeCommandComplete, decodeErrorFields } from '../wire/backend-messages.js';
import { FieldWriter } from '../wire/field-writer.js';
import type { Frame } from '../wire/frame-reader.js';
import { FRONTEND } from '../wire/message-codes.js';
import type { StatementRun } from './statement-run.js';

/** Rows of each result kept (as text) for the audit capture; the capture's byte budget cuts it shorter. */
const CAPTURE_ROWS = 50;
/**
 * Portals remembered (described, or described by the client) at most: the client picks the names, and the server
 * drops portals at transaction end without a word. Past it both are forgotten: the gateway then describes each
 * portal again itself, which costs a message, never a raw row.
 */
const REMEMBERED_PORTALS = 1024;

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
  /**
   * The description of each portal (from the answer to a Describe of it, the client's or the gateway's), for rows
   * that come without a RowDescription (an Execute's rows never have one). Kept in the order the backend confirms
   * Bind, Describe and Close (see `PendingResponse.descriptions`).
   */
  private readonly described = new Map<string, FieldDescription[]>();
  /**
   * Portals the client has sent a Describe for since it bound them (as sent, not yet answered): an Execute of any
   * other portal is preceded by the gateway's own Describe (see `describeBeforeExecute`).
   */
  private readonly clientDescribed = new Set<string>();

  constructor(readonly masking: ResultMasking | undefined) {}

  /**
   * Bind: the portal's earlier description no longer applies, from the moment the backend confirms the Bind (in
   * order with the answers before it: a pipelined rebind of the unnamed portal never lends its shape to the rows
   * of the one before). What is returned is applied then (see `PendingResponse.descriptions`).
   */
  bound(portal: string): (() => void) | undefined {
    if (this.masking === undefined) return undefined;
    this.clientDescribed.delete(portal);
    return () => void this.described.delete(portal);
  }

  /** Close of a portal: as Bind, its description goes when the backend confirms it. */
  closed(target: 'S' | 'P', name: string): (() => void) | undefined {
    if (this.masking === undefined || target !== 'P') return undefined;
    this.clientDescribed.delete(name);
    return () => void this.described.delete(name);
  }

  /** A RowDescription whose column names must be read from the catalog before its rows can be masked. */
  lookup(frame: Frame): Promise<void> | undefined {
    return this.masking?.lookup(decodeRowDescription(frame.body));
  }

  rowDescription(frame: Frame): void {
    this.fields = decodeRowDescription(frame.body);
    this.shape = this.masking?.shape(this.fields);
  }

  /** A Describe of `S:name` or `P:name` is sent to the backend (by the client or the gateway). */
  describeSent(target: string): void {
    if (this.masking === undefined || !target.startsWith('P:')) return;
    if (this.clientDescribed.size >= REMEMBERED_PORTALS) this.clientDescribed.clear();
    this.clientDescribed.add(target.slice(2));
  }

  /** A Describe of `S:name` or `P:name` failed or was skipped after an error: the portal counts as not described. */
  describeLost(target: string): void {
    if (target.startsWith('P:')) this.clientDescribed.delete(target.slice(2));
  }

  /**
   * The Describe the gateway sends ahead of an Execute of `portal`, or undefined when none is needed. Masking needs
   * each row's shape, and JDBC, pgx and porsager's postgres Describe a statement once and then Bind and Execute it
   * in later batches without one; the backend's answer to this Describe is read, and not relayed (see
   * `PendingResponse.injected`). Only for callers with a masking profile, and only for a portal the client did not
   * describe since binding it: what the backend describes is the portal that runs, whatever the gateway tracked.
   */
  describeBeforeExecute(portal: string): Buffer | undefined {
    if (this.masking === undefined || this.clientDescribed.has(portal)) return undefined;
    return new FieldWriter().byte('P'.charCodeAt(0)).cstring(portal).message(FRONTEND.Describe);
  }

  /** A Describe (`S:name` or `P:name`) was answered with NoData: the portal returns no rows. */
  describedEmpty(target: string): void {
    if (target.startsWith('P:')) this.described.delete(target.slice(2));
  }

  /** A Describe (`S:name` or `P:name`) was answered with the current RowDescription: a portal's is remembered. */
  describedAs(target: string): void {
    if (this.fields === undefined) return;
    if (target.startsWith('P:')) {
      if (this.described.size >= REMEMBERED_PORTALS) {
        this.described.clear();
        this.clientDescribed.clear();
      }
      this.described.set(target.slice(2), this.fields);
    }
    // A statement's description has no result formats yet, and no rows follow it: its portals are described.
    else this.end();
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

  /**
   * An ErrorResponse or NoticeResponse with its values masked for callers with a masking profile (counted with the
   * running statement's, if any); its SQLSTATE and message for the session's record.
   */
  maskError(frame: Frame, run: StatementRun | undefined): MaskedErrorMessage {
    if (this.masking === undefined) {
      const fields = decodeErrorFields(frame.body);
      return { bytes: frame.bytes, code: fields['C'], message: fields['M'] };
    }
    return maskErrorMessage(frame.bytes, frame.body, this.masking.plan, run?.counts ?? new MaskCounts());
  }

  /** A NotificationResponse (NOTIFY payload) masked for callers with a masking profile. */
  maskNotification(frame: Frame, run: StatementRun | undefined): Buffer {
    if (this.masking === undefined) return frame.bytes;
    return maskNotification(frame.bytes, frame.body, this.masking.plan, run?.counts ?? new MaskCounts());
  }

  /** A ParameterStatus whose value is content-scanned for callers with a masking profile (see `maskSetting`). */
  maskParameterStatus(frame: Frame, name: string, value: string, run: StatementRun | undefined): Buffer {
    if (this.masking === undefined) return frame.bytes;
    return maskSetting(frame.bytes, name, value, this.masking.plan, run?.counts ?? new MaskCounts());
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

  /** An Execute without a RowDescription in its answer: the description its portal was given. */
  private describedFor(portal: string | undefined): FieldDescription[] | undefined {
    return portal === undefined ? undefined : this.described.get(portal);
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
