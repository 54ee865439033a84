import { type AuditEvent, type SessionSummary, unfoldResults } from '../core/audit-event.js';
import type { CapturedResponse } from './captured-response.js';
import { isEventStream, reassembleStream, type StreamText } from './sse-text.js';

/**
 * A recorded session as a small, render-neutral structure: the CLI prints it (`sessions replay`) and the admin web
 * page can render the same. Pure: built from the Store's events only.
 */
export interface SessionTimeline {
  readonly session: SessionSummary;
  readonly entries: readonly TimelineEntry[];
}

export type TimelineEntry = ConnectEntry | OperationEntry | DisconnectEntry | ForensicReadEntry;

interface EntryBase {
  /** Epoch ms, and ms since the session started (for real-time replay). */
  readonly at: number;
  readonly offsetMs: number;
}

export interface ConnectEntry extends EntryBase {
  readonly type: 'connect';
  readonly subject: string;
  readonly issuer: string;
  readonly groups: readonly string[];
  readonly resource?: string;
  readonly clientAddress?: string;
  readonly userName?: string;
}

export interface OperationEntry extends EntryBase {
  readonly type: 'operation';
  readonly seq: number;
  readonly kind: string;
  readonly action: string;
  /** The SQL statement, or method and path. */
  readonly text: string;
  readonly model?: string;
  readonly tags: readonly string[];
  readonly verdict: string;
  readonly reason?: string;
  readonly rule?: string;
  /** Absent while the operation was still running when the log ends (or the gateway died). */
  readonly result?: OperationResultEntry;
}

export interface OperationResultEntry {
  readonly at: number;
  readonly outcome: string;
  readonly status?: number;
  readonly rows?: number;
  readonly durationMs?: number;
  readonly error?: string;
  readonly response?: ReplayResponse;
}

export type ReplayResponse = SqlResponse | HttpResponse;

export interface SqlResponse {
  readonly type: 'sql';
  readonly columns?: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly tags: readonly string[];
  readonly truncated: boolean;
}

export interface HttpResponse {
  readonly type: 'http';
  readonly status?: number;
  readonly contentType?: string;
  readonly body?: string;
  /** For `text/event-stream` bodies: the streamed chat completion reassembled. */
  readonly stream?: StreamText;
  readonly truncated: boolean;
}

export interface DisconnectEntry extends EntryBase {
  readonly type: 'disconnect';
  readonly reason: string;
}

export interface ForensicReadEntry extends EntryBase {
  readonly type: 'forensic-read';
  readonly reader: string;
  readonly verdict: string;
}

type Payload = Readonly<Record<string, unknown>>;

export function buildTimeline(session: SessionSummary, events: readonly AuditEvent[]): SessionTimeline {
  const entries: TimelineEntry[] = [];
  const operations = new Map<number, number>();
  const base = { at: 0, offsetMs: 0 };
  for (const event of unfoldResults(events)) {
    const p = event.payload;
    const when = { ...base, at: event.at, offsetMs: Math.max(0, event.at - session.startedAt) };
    switch (event.type) {
      case 'session.start':
        entries.push({
          ...when,
          type: 'connect',
          subject: str(p.subject),
          issuer: str(p.issuer),
          groups: Array.isArray(p.groups) ? p.groups.map(String) : [],
          ...opt('resource', p.resource),
          ...opt('clientAddress', p.clientAddress),
          ...opt('userName', p.userName),
        });
        break;
      case 'operation': {
        const seq = Number(p.seq);
        operations.set(seq, entries.length);
        entries.push({
          ...when,
          type: 'operation',
          seq,
          kind: str(p.kind),
          action: str(p.action),
          text: str(p.text),
          tags: Array.isArray(p.tags) ? p.tags.map(String) : [],
          verdict: str(p.verdict),
          ...opt('model', p.model),
          ...opt('reason', p.reason),
          ...opt('rule', p.rule),
        });
        break;
      }
      case 'operation.result': {
        const index = operations.get(Number(p.seq));
        const entry = index === undefined ? undefined : entries[index];
        if (entry?.type === 'operation') entries[index as number] = { ...entry, result: resultEntry(event.at, p) };
        break;
      }
      case 'session.end':
        entries.push({ ...when, type: 'disconnect', reason: str(p.reason) });
        break;
      case 'forensic.read':
        entries.push({ ...when, type: 'forensic-read', reader: str(p.subject), verdict: str(p.verdict) });
        break;
    }
  }
  return { session, entries };
}

function resultEntry(at: number, p: Payload): OperationResultEntry {
  const captured = p.response as CapturedResponse | undefined;
  return {
    at,
    outcome: str(p.outcome),
    ...optNumber('status', p.status),
    ...optNumber('rows', p.rows),
    ...optNumber('durationMs', p.durationMs),
    ...opt('error', p.error),
    ...(captured && typeof captured === 'object' ? { response: replayResponse(captured) } : {}),
  };
}

function replayResponse(r: CapturedResponse): ReplayResponse {
  const truncated = r.truncated === true;
  if (r.columns !== undefined || r.rows !== undefined || r.tags !== undefined) {
    return {
      type: 'sql',
      ...(r.columns ? { columns: r.columns } : {}),
      rows: r.rows ?? [],
      tags: r.tags ?? [],
      truncated,
    };
  }
  const stream = r.body !== undefined && isEventStream(r.contentType) ? reassembleStream(r.body) : undefined;
  return {
    type: 'http',
    ...optNumber('status', r.status),
    ...opt('contentType', r.contentType),
    ...opt('body', r.body),
    ...(stream ? { stream } : {}),
    truncated,
  };
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

function opt<K extends string>(key: K, value: unknown): { [P in K]?: string } {
  return typeof value === 'string' ? ({ [key]: value } as { [P in K]: string }) : {};
}

function optNumber<K extends string>(key: K, value: unknown): { [P in K]?: number } {
  return typeof value === 'number' ? ({ [key]: value } as { [P in K]: number }) : {};
}
